/** The prefix inside the hash tag by default: `{portcullis}:revoked`, `:seq`, `:revocations` and `:resync-owed`. */
export const DEFAULT_KEY_PREFIX = 'portcullis';

/** Where the shared set lives and where changes are announced. */
export interface RevocationKeys {
  /** Sorted set of encoded entries, scored by `until`. */
  readonly set: string;
  /** Counter bumped by every published change: readers compare it with what they have applied. */
  readonly sequence: string;
  /** Pub/sub channel for `entries` and `resync` messages. */
  readonly channel: string;
  /** Present while a rebuild has changed the set and no writer has told readers yet. */
  readonly resyncOwed: string;
}

/**
 * One hash tag around the prefix puts every key in a single Redis Cluster slot, so the writer's scripts and
 * the reader's snapshot (which touch several) are legal there, and run on one node.
 */
export function revocationKeys(prefix: string = DEFAULT_KEY_PREFIX): RevocationKeys {
  if (prefix === '' || /[{}\s]/.test(prefix)) {
    const shown = JSON.stringify(prefix);
    throw new TypeError(`revocation key prefix must be non-empty, without braces or whitespace: ${shown}`);
  }
  return { set: `{${prefix}}:revoked`, sequence: `{${prefix}}:seq`, channel: `{${prefix}}:revocations`, resyncOwed: `{${prefix}}:resync-owed` };
}
