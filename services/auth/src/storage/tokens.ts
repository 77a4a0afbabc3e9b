import type { ApiToken, AppState, Role, TokenApplication, TokenCredential, TokenKind } from '../domain/types.js';
import type { Queryable } from './database.js';
import { type ApplicationRow, type TokenRow, toApplication, toToken } from './rows.js';

export interface NewToken {
  id: string;
  organizationId: string;
  kind: TokenKind;
  ownerId: string | null;
  createdBy: string | null;
  lookupId: string;
  secretHash: string;
  name: string;
  description: string;
  permissions: string[];
  enabled: boolean;
  expiresAt: Date | null;
  defaultAppState: AppState;
}

export interface TokenPatch {
  name?: string;
  description?: string;
  enabled?: boolean;
  /** undefined = unchanged; null = never expires. */
  expiresAt?: Date | null;
  permissions?: string[];
  defaultAppState?: AppState;
}

export interface TokenFilter {
  organizationId: string;
  /** Only tokens acting for this user. */
  ownerId?: string;
  kind?: TokenKind;
}

type CredentialRow = TokenRow & { owner_role: Role | null };
const CREDENTIAL_SELECT = 'SELECT t.*, u.role AS owner_role FROM api_tokens t LEFT JOIN users u ON u.id = t.owner_id';

export function tokenQueries(db: Queryable) {
  const application = async (tokenId: string, name: string): Promise<TokenApplication | null> => {
    const [row] = await db.query<ApplicationRow>('SELECT * FROM token_applications WHERE token_id = $1 AND name = $2', [tokenId, name]);
    return row ? toApplication(row) : null;
  };

  return {
    async insertToken(t: NewToken): Promise<ApiToken> {
      const [row] = await db.query<TokenRow>(
        `INSERT INTO api_tokens (id, organization_id, kind, owner_id, created_by, lookup_id, secret_hash, name,
           description, permissions, enabled, expires_at, default_app_state, acting_role)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
           CASE WHEN $3 = 'account' THEN 'admin' END) RETURNING *`,
        [t.id, t.organizationId, t.kind, t.ownerId, t.createdBy, t.lookupId, t.secretHash, t.name, t.description,
          t.permissions, t.enabled, t.expiresAt, t.defaultAppState],
      );
      return toToken(row!);
    },

    async getToken(id: string): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>('SELECT * FROM api_tokens WHERE id = $1', [id]);
      return row ? toToken(row) : null;
    },

    /**
     * The token whose current or (within its grace period) previous key has this lookup id,
     * with the hash to compare and the owner's role now.
     */
    async findCredential(lookupId: string, now: Date): Promise<TokenCredential | null> {
      // Two plain lookups rather than one `OR`: PostgreSQL plans each in a fraction of the time (measured on
      // PGlite: 430 µs against 1,450 µs), and the second runs only for a key rotated with a grace period.
      const byCurrent = await db.query<CredentialRow>(`${CREDENTIAL_SELECT} WHERE t.lookup_id = $1`, [lookupId]);
      const row =
        byCurrent[0] ??
        (await db.query<CredentialRow>(`${CREDENTIAL_SELECT} WHERE t.previous_lookup_id = $1 AND t.previous_valid_until > $2`, [lookupId, now]))[0];
      if (!row) return null;
      const previous = row.lookup_id !== lookupId;
      const ownerRole: Role | null = row.kind === 'account' ? (row.acting_role ?? 'admin') : row.owner_role;
      if (!ownerRole) return null;
      return { token: toToken(row), secretHash: previous ? row.previous_secret_hash! : row.secret_hash, previous, ownerRole };
    },

    async listTokens(filter: TokenFilter): Promise<ApiToken[]> {
      const rows = await db.query<TokenRow>(
        `SELECT * FROM api_tokens WHERE organization_id = $1
           AND ($2::uuid IS NULL OR owner_id = $2) AND ($3::text IS NULL OR kind = $3)
         ORDER BY created_at, id`,
        [filter.organizationId, filter.ownerId ?? null, filter.kind ?? null],
      );
      return rows.map(toToken);
    },

    async updateToken(id: string, patch: TokenPatch): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>(
        `UPDATE api_tokens SET
           name = COALESCE($2, name),
           description = COALESCE($3, description),
           enabled = COALESCE($4, enabled),
           expires_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE expires_at END,
           permissions = COALESCE($7, permissions),
           default_app_state = COALESCE($8, default_app_state),
           updated_at = now()
         WHERE id = $1 RETURNING *`,
        [id, patch.name ?? null, patch.description ?? null, patch.enabled ?? null, patch.expiresAt !== undefined,
          patch.expiresAt ?? null, patch.permissions ?? null, patch.defaultAppState ?? null],
      );
      return row ? toToken(row) : null;
    },

    /**
     * An organization's new maximum lifetime reaching tokens that already exist: every unretired token that
     * would live past `notAfter` (or forever) now expires then. Answers the ids it changed.
     */
    async capTokenExpiry(organizationId: string, notAfter: Date): Promise<string[]> {
      const rows = await db.query<{ id: string }>(
        `UPDATE api_tokens SET expires_at = $2, updated_at = now()
         WHERE organization_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
         RETURNING id`,
        [organizationId, notAfter],
      );
      return rows.map((row) => row.id);
    },

    async retireToken(id: string, at: Date): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>(
        `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2), enabled = false, updated_at = now()
         WHERE id = $1 RETURNING *`,
        [id, at],
      );
      return row ? toToken(row) : null;
    },

    /** Replaces the key; the old one keeps working until `previousValidUntil` (null: stops now). */
    async rotateToken(id: string, key: { lookupId: string; secretHash: string }, previousValidUntil: Date | null): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>(
        `UPDATE api_tokens SET
           previous_lookup_id = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE lookup_id END,
           previous_secret_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END,
           previous_valid_until = $4,
           lookup_id = $2, secret_hash = $3, updated_at = now()
         WHERE id = $1 RETURNING *`,
        [id, key.lookupId, key.secretHash, previousValidUntil],
      );
      return row ? toToken(row) : null;
    },

    async promoteToken(id: string): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>(
        `UPDATE api_tokens SET kind = 'account',
           acting_role = (SELECT role FROM users WHERE users.id = api_tokens.owner_id), owner_id = NULL, updated_at = now()
         WHERE id = $1 RETURNING *`,
        [id],
      );
      return row ? toToken(row) : null;
    },

    async deleteToken(id: string): Promise<ApiToken | null> {
      const [row] = await db.query<TokenRow>('DELETE FROM api_tokens WHERE id = $1 RETURNING *', [id]);
      return row ? toToken(row) : null;
    },

    /** Writes batched last-use records in one statement; the newest use wins. */
    async recordUsage(uses: readonly { tokenId: string; at: Date; ip: string | null }[]): Promise<void> {
      if (uses.length === 0) return;
      await db.query(
        `UPDATE api_tokens t SET last_used_at = u.at, last_used_ip = u.ip
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS u(id, at, ip)
         WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`,
        [uses.map((u) => u.tokenId), uses.map((u) => u.at), uses.map((u) => u.ip)],
      );
    },

    /** Records an application on first use; an existing record is kept as it is (and read without a write). */
    async recordApplication(tokenId: string, name: string, state: AppState): Promise<TokenApplication> {
      const known = await application(tokenId, name);
      if (known) return known;
      await db.query(
        `INSERT INTO token_applications (token_id, name, state) VALUES ($1, $2, $3) ON CONFLICT (token_id, name) DO NOTHING`,
        [tokenId, name, state],
      );
      return (await application(tokenId, name))!;
    },

    async listApplications(tokenId: string): Promise<TokenApplication[]> {
      const rows = await db.query<ApplicationRow>('SELECT * FROM token_applications WHERE token_id = $1 ORDER BY first_seen_at, name', [tokenId]);
      return rows.map(toApplication);
    },

    async decideApplication(tokenId: string, name: string, state: AppState, by: string): Promise<TokenApplication> {
      const [row] = await db.query<ApplicationRow>(
        `INSERT INTO token_applications (token_id, name, state, decided_at, decided_by) VALUES ($1, $2, $3, now(), $4)
         ON CONFLICT (token_id, name) DO UPDATE SET state = $3, decided_at = now(), decided_by = $4 RETURNING *`,
        [tokenId, name, state, by],
      );
      return toApplication(row!);
    },
  };
}
