import { isRevocationEntry } from './entry.js';
import type { RevocationEntry } from './types.js';

/**
 * What a writer publishes on the channel. `v` lets a later format coexist with readers of this one. `seq` is
 * the value of the sequence counter the same script bumped: the writer's script adds it on the way out, so
 * a reader can tell a lost message from a quiet channel. A message without it (a hand-made publish) still
 * applies, but counts for nothing.
 */
export type RevocationMessage =
  | { v: 1; seq?: number; type: 'entries'; entries: RevocationEntry[] }
  | { v: 1; seq?: number; type: 'resync' };

export function encodeEntriesMessage(entries: readonly RevocationEntry[]): string {
  const message: RevocationMessage = {
    v: 1,
    type: 'entries',
    // Copy field by field so a caller's extra properties never reach the wire.
    entries: entries.map(({ kind, id, revokedAt, until }) => ({ kind, id, revokedAt, until })),
  };
  return JSON.stringify(message);
}

export function encodeResyncMessage(): string {
  const message: RevocationMessage = { v: 1, type: 'resync' };
  return JSON.stringify(message);
}

/**
 * The message in `raw`, or `undefined` when it is not one this reader understands. Never throws: the
 * channel is shared, and a bad publish must not take gateways down. Malformed entries inside an otherwise
 * valid message are dropped one by one so the good ones still apply; a malformed `seq` is dropped too.
 */
export function parseMessage(raw: string): RevocationMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { v, seq, type, entries } = value as Record<string, unknown>;
  if (v !== 1) return undefined;
  const sequenced = Number.isSafeInteger(seq) && (seq as number) > 0 ? { seq: seq as number } : {};
  if (type === 'resync') return { v: 1, ...sequenced, type: 'resync' };
  if (type === 'entries' && Array.isArray(entries)) {
    return { v: 1, ...sequenced, type: 'entries', entries: entries.filter(isRevocationEntry) };
  }
  return undefined;
}
