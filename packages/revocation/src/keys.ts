/** The prefix inside the hash tag by default: set `{portcullis}:revoked`, channel `{portcullis}:revocations`. */
export const DEFAULT_KEY_PREFIX = 'portcullis';

/** Where the shared set lives and where changes are announced. */
export interface RevocationKeys {
  /** Sorted set of encoded entries, scored by `until`. */
  readonly set: string;
  /** Pub/sub channel for `entries` and `resync` messages. */
  readonly channel: string;
}

/**
 * One hash tag around the prefix puts the set in a single Redis Cluster slot, so the writer's MULTI
 * (which touches only the set) is legal there; the channel shares the tag so it reads as one family.
 */
export function revocationKeys(prefix: string = DEFAULT_KEY_PREFIX): RevocationKeys {
  if (prefix === '' || /[{}\s]/.test(prefix)) {
    const shown = JSON.stringify(prefix);
    throw new TypeError(`revocation key prefix must be non-empty, without braces or whitespace: ${shown}`);
  }
  return { set: `{${prefix}}:revoked`, channel: `{${prefix}}:revocations` };
}
