import type { RevocationEntry } from './types.js';

/** Ids are UUIDs or opaque strings; whitespace would make members and logs ambiguous, so it is refused. */
const ID_PATTERN = /^\S+$/;

/** Longest id accepted from the wire; a PAT id or `jti` is far shorter, this only bounds garbage. */
export const MAX_ENTRY_ID_LENGTH = 256;

/** True when `value` is a well-formed entry: used on everything read from Redis or pub/sub. */
export function isRevocationEntry(value: unknown): value is RevocationEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, id, revokedAt, until } = value as Record<string, unknown>;
  return (
    (kind === 'token' || kind === 'session') &&
    typeof id === 'string' &&
    id.length <= MAX_ENTRY_ID_LENGTH &&
    ID_PATTERN.test(id) &&
    Number.isSafeInteger(revokedAt) &&
    Number.isSafeInteger(until)
  );
}

/** Writers refuse bad input loudly: it is a caller bug, and a silently dropped revocation is a hole. */
export function assertRevocationEntries(entries: readonly RevocationEntry[]): void {
  for (const entry of entries) {
    if (!isRevocationEntry(entry)) {
      throw new TypeError(`invalid revocation entry: ${JSON.stringify(entry)}`);
    }
  }
}
