/**
 * The revocation protocol shared by auth (writer) and every gateway (reader).
 *
 * An entry revokes either every session minted from one PAT up to a moment (`kind: 'token'`, id = PAT id,
 * matched against the session's `tid` and `iat`) or one session (`kind: 'session'`, id = the JWT's `jti`).
 * `until` is when the entry stops mattering: the latest `exp` any token it covers can have. Past it the
 * entry is pruned everywhere, by the writer's clock and each reader's, so the writer must add to it the clock
 * tolerance the gateway's JWT check allows plus any skew between machines: pruned early, a revoked token
 * would pass for the rest of its life.
 *
 * Entries are only ever added (a re-enabled PAT is one whose later sessions have `iat` past `revokedAt`),
 * so readers merge every update into what they hold.
 */
export interface RevocationEntry {
  kind: 'token' | 'session';
  id: string;
  /**
   * Epoch ms. For `token`: sessions issued at or before this moment are revoked. For `session`: informational;
   * Redis does not store it, and entries read back from a snapshot carry 0.
   */
  revokedAt: number;
  /** Epoch ms after which the entry can be forgotten. */
  until: number;
}

/** Auth's side: PostgreSQL has already recorded the entries when these are called. */
export interface RevocationWriter {
  /** Adds entries to the shared set and tells every reader, atomically. */
  revoke(entries: readonly RevocationEntry[]): Promise<void>;
  /**
   * Re-adds the full list from the record (after a FLUSHALL or restart), prunes expired ones, and tells
   * readers to reload when that changed the set: an entry restored, or its `until` lengthened.
   */
  rebuild(entries: readonly RevocationEntry[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why a source loads the whole set again after the first load: its subscription reconnected; a message
 * skipped a sequence; a heartbeat found messages announced a period earlier still missing; Redis's counter
 * went below what was applied (it lost its data); or a writer's rebuild asked every reader to.
 */
export type ReloadReason = 'reconnect' | 'sequence_gap' | 'messages_missing' | 'redis_reset' | 'rebuild';

/** What a reader is told by its source. */
export interface RevocationHandlers {
  /**
   * Part of a full load of the set, at first connect and on every reload: a union into what the reader holds,
   * as `onEntries` is. `last` marks the load's final part: the reader then holds every entry the set held
   * when the load began. A load abandoned midway (the source fell out of sync again) sends no `last` part.
   */
  onSnapshot(entries: readonly RevocationEntry[], last: boolean): void;
  /** The source has decided to reload the whole set (`onSnapshot` parts follow, the last once the load succeeds). */
  onReload?(reason: ReloadReason): void;
  /** New entries published by a writer. */
  onEntries(entries: readonly RevocationEntry[]): void;
  /** A successful contact with the source (load, message or heartbeat) at `atMs`. */
  onContact(atMs: number): void;
}

/** Where a reader's entries come from: Redis, or the in-process bus under `npm start`. */
export interface RevocationSource {
  /**
   * Subscribes, loads the set, and keeps both current; resolves after the first snapshot. The Redis source
   * rejects instead after a bounded wait, and keeps retrying until `close()`.
   */
  start(handlers: RevocationHandlers): Promise<void>;
  close(): Promise<void>;
}
