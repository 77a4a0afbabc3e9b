import { isRevocationEntry } from './entry.js';
import type { RevocationEntry } from './types.js';

/** What a writer publishes on the channel. `v` lets a later format coexist with readers of this one. */
export type RevocationMessage =
  | { v: 1; type: 'entries'; entries: RevocationEntry[] }
  | { v: 1; type: 'resync' };

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
 * valid message are dropped one by one so the good ones still apply.
 */
export function parseMessage(raw: string): RevocationMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { v, type, entries } = value as Record<string, unknown>;
  if (v !== 1) return undefined;
  if (type === 'resync') return { v: 1, type: 'resync' };
  if (type === 'entries' && Array.isArray(entries)) {
    return { v: 1, type: 'entries', entries: entries.filter(isRevocationEntry) };
  }
  return undefined;
}
