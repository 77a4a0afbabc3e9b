import type { RevocationEntry, RevocationWriter } from '@portcullis/revocation';
import type { Store, StoreQueries } from '../storage/store.js';
import type { Clock } from './clock.js';

/**
 * How long past a session's `exp` its revocation is kept: verifiers accept a token a few seconds after
 * `exp` (clock tolerance) and machines' clocks drift, so forgetting the entry at `exp` exactly would let
 * a revoked token through for those last seconds.
 */
export const REVOCATION_LEEWAY_MS = 60_000;

export type RevokerEvent = 'published' | 'publish_failed' | 'rebuilt' | 'rebuild_failed';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Writes revocations the way design.md says: PostgreSQL first (inside the caller's transaction, with
 * the change that caused them), then the Redis cache every gateway reads. If Redis fails after the
 * record is committed, the periodic rebuild from PostgreSQL delivers the entry; the caller is not failed.
 */
export class Revoker {
  constructor(
    private readonly store: Store,
    private readonly writer: RevocationWriter,
    private readonly sessionLatestExpiry: () => number,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly observe: (event: RevokerEvent) => void = () => {},
  ) {}

  /** Every session minted from token (or for subject) `id` until now. */
  tokenEntry(id: string): RevocationEntry {
    return { kind: 'token', id, revokedAt: this.clock(), until: this.sessionLatestExpiry() + REVOCATION_LEEWAY_MS };
  }

  sessionEntry(jti: string, expSec: number): RevocationEntry {
    return { kind: 'session', id: jti, revokedAt: this.clock(), until: expSec * 1000 + REVOCATION_LEEWAY_MS };
  }

  /** Records entries in the caller's transaction; call `publish` with them after it commits. */
  async record(tx: StoreQueries, entries: readonly RevocationEntry[]): Promise<void> {
    await tx.insertRevocations(entries);
  }

  async publish(entries: readonly RevocationEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.writer.revoke(entries);
      this.observe('published');
    } catch (error) {
      this.observe('publish_failed');
      this.log.error({ err: error, entries: entries.length }, 'revocation cache write failed; the next rebuild will deliver it');
    }
  }

  /** Re-adds every live entry from PostgreSQL to the cache: at start and periodically. */
  async rebuild(): Promise<number> {
    const now = new Date(this.clock());
    await this.store.pruneRevocations(now);
    try {
      const entries = await this.store.listActiveRevocations(now);
      await this.writer.rebuild(entries);
      this.observe('rebuilt');
      return entries.length;
    } catch (error) {
      this.observe('rebuild_failed');
      throw error;
    }
  }
}
