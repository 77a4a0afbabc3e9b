import { isRevocationEntry } from './entry.js';
import type { RevocationEntry } from './types.js';

/**
 * Sorted-set member for an entry; the score is `until`.
 *
 * A token entry keeps `revokedAt` in the member so that two revocations of one PAT (disabled, re-enabled,
 * disabled again) are two members; a session entry is just its `jti`, so revoking it twice is one member.
 */
export function encodeMember(entry: RevocationEntry): string {
  return entry.kind === 'token' ? `t:${entry.id}:${entry.revokedAt}` : `s:${entry.id}`;
}

/**
 * The entry a member and score stand for, or `undefined` for anything that does not parse: the set is
 * shared, and a foreign or corrupt member must not stop a gateway from loading the rest.
 *
 * Session members carry no `revokedAt`; it reads back as 0 (nothing uses it for sessions).
 */
export function decodeMember(member: string, score: string | number): RevocationEntry | undefined {
  const until = Number(score);
  let entry: RevocationEntry | undefined;
  if (member.startsWith('t:')) {
    const colon = member.lastIndexOf(':');
    const revokedAt = member.slice(colon + 1);
    // Digits only: Number() would also accept '', ' 1', '0x10' and '1e3'.
    if (colon > 2 && /^\d{1,16}$/.test(revokedAt)) {
      entry = { kind: 'token', id: member.slice(2, colon), revokedAt: Number(revokedAt), until };
    }
  } else if (member.startsWith('s:')) {
    entry = { kind: 'session', id: member.slice(2), revokedAt: 0, until };
  }
  return isRevocationEntry(entry) ? entry : undefined;
}
