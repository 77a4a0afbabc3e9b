import type { RevocationEntry } from '@portcullis/revocation';
import type { StoredSigningKey } from '@portcullis/jwt';
import type { AuditEvent } from '../domain/types.js';
import type { Queryable } from './database.js';
import { type AuditRow, toAuditEvent } from './rows.js';

export interface NewAuditEvent {
  organizationId: string | null;
  actorId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

/** Revocations (the record Redis is rebuilt from), signing keys and the audit log. */
export function recordQueries(db: Queryable) {
  return {
    async insertRevocations(entries: readonly RevocationEntry[]): Promise<void> {
      if (entries.length === 0) return;
      await db.query(
        `INSERT INTO revocations (kind, id, revoked_at, until)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
         ON CONFLICT DO NOTHING`,
        [entries.map((e) => e.kind), entries.map((e) => e.id), entries.map((e) => new Date(e.revokedAt)), entries.map((e) => new Date(e.until))],
      );
    },

    async listActiveRevocations(now: Date): Promise<RevocationEntry[]> {
      const rows = await db.query<{ kind: RevocationEntry['kind']; id: string; revoked_at: Date; until: Date }>(
        'SELECT kind, id, revoked_at, until FROM revocations WHERE until > $1',
        [now],
      );
      return rows.map((r) => ({ kind: r.kind, id: r.id, revokedAt: r.revoked_at.getTime(), until: r.until.getTime() }));
    },

    /** The record's answer to "is this session revoked?": by jti, or by its token, subject or application. */
    async isSessionRevoked(s: { jti: string; tid?: string | undefined; sub: string; app?: string | undefined; iatMs: number }): Promise<boolean> {
      const ids = [s.sub, ...(s.tid ? [s.tid] : []), ...(s.tid && s.app ? [`${s.tid}/${s.app}`] : [])];
      const rows = await db.query(
        `SELECT 1 FROM revocations WHERE (kind = 'session' AND id = $1)
           OR (kind = 'token' AND id = ANY($2::text[]) AND revoked_at >= $3) LIMIT 1`,
        [s.jti, ids, new Date(s.iatMs)],
      );
      return rows.length > 0;
    },

    async pruneRevocations(now: Date): Promise<number> {
      const rows = await db.query('DELETE FROM revocations WHERE until <= $1 RETURNING id', [now]);
      return rows.length;
    },

    async listSigningKeys(): Promise<StoredSigningKey[]> {
      const rows = await db.query<{ kid: string; private_key_pem: string; created_at: Date }>(
        'SELECT kid, private_key_pem, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid',
      );
      return rows.map((r) => ({ kid: r.kid, privateKeyPem: r.private_key_pem, createdAt: r.created_at }));
    },

    async insertSigningKey(key: StoredSigningKey): Promise<void> {
      await db.query('INSERT INTO signing_keys (kid, private_key_pem, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        key.kid,
        key.privateKeyPem,
        key.createdAt,
      ]);
    },

    async insertAudit(event: NewAuditEvent): Promise<void> {
      await db.query(
        `INSERT INTO audit_events (organization_id, actor_id, action, target_type, target_id, ip, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [event.organizationId, event.actorId, event.action, event.targetType ?? null, event.targetId ?? null, event.ip ?? null,
          JSON.stringify(event.detail ?? {})],
      );
    },

    /** Newest first; `before` is the id of the last event of the previous page. */
    async listAudit(organizationId: string, options: { limit: number; before?: string }): Promise<AuditEvent[]> {
      const rows = await db.query<AuditRow>(
        `SELECT * FROM audit_events WHERE organization_id = $1 AND ($2::bigint IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3`,
        [organizationId, options.before ?? null, options.limit],
      );
      return rows.map(toAuditEvent);
    },
  };
}
