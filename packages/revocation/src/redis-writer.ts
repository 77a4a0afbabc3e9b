import type { ChainableCommander, Redis } from 'ioredis';
import { assertRevocationEntries } from './entry.js';
import { revocationKeys } from './keys.js';
import { encodeMember } from './member.js';
import { encodeEntriesMessage, encodeResyncMessage } from './message.js';
import type { RevocationEntry, RevocationWriter } from './types.js';

/** Entries per ZADD (and per published message): keeps each command and each MULTI short for Redis. */
export const REVOCATION_WRITE_CHUNK = 1000;

export interface RedisRevocationWriterOptions {
  /** Inside the hash tag of the key and channel names; default `portcullis`. */
  keyPrefix?: string;
  /** Epoch ms, for pruning entries whose `until` has passed. Default `Date.now`. */
  now?: () => number;
}

/**
 * Auth's side of the protocol on Redis. The client is borrowed: `close()` does not quit it, its owner
 * does (it is usually shared with other auth work).
 *
 * Needs Redis >= 6.2 (ZADD GT).
 */
export function createRedisRevocationWriter(
  redis: Redis,
  options: RedisRevocationWriterOptions = {},
): RevocationWriter {
  const keys = revocationKeys(options.keyPrefix);
  const now = options.now ?? Date.now;

  // GT: a member's score only ever grows, so a replayed or rebuilt entry never shortens a live one.
  const addTo = (tx: ChainableCommander, chunk: readonly RevocationEntry[]): ChainableCommander =>
    tx.zadd(keys.set, 'GT', ...chunk.flatMap((entry) => [entry.until, encodeMember(entry)]));
  // Exclusive bound: an entry is kept through its `until` millisecond, as in RevocationSet.
  const prune = (tx: ChainableCommander): ChainableCommander => tx.zremrangebyscore(keys.set, '-inf', `(${now()}`);

  return {
    async revoke(entries) {
      assertRevocationEntries(entries);
      // Each chunk is one MULTI: its entries are stored, expired ones pruned and readers told, or none of it.
      for (const chunk of chunks(entries)) {
        const tx = prune(addTo(redis.multi(), chunk)).publish(keys.channel, encodeEntriesMessage(chunk));
        throwOnError(await tx.exec());
      }
    },

    async rebuild(entries) {
      assertRevocationEntries(entries);
      // A union, never a replace: another auth replica may have revoked something after our read of PostgreSQL.
      for (const chunk of chunks(entries)) {
        throwOnError(await addTo(redis.pipeline(), chunk).exec());
      }
      // Readers reload the snapshot on `resync`, so they pick up everything the chunks above restored.
      throwOnError(await prune(redis.multi()).publish(keys.channel, encodeResyncMessage()).exec());
    },

    async close() {
      // Nothing to release: the client belongs to the caller.
    },
  };
}

function* chunks<T>(items: readonly T[]): Generator<readonly T[]> {
  for (let start = 0; start < items.length; start += REVOCATION_WRITE_CHUNK) {
    yield items.slice(start, start + REVOCATION_WRITE_CHUNK);
  }
}

/** ioredis resolves a MULTI or pipeline with per-command errors instead of rejecting; a lost write must throw. */
function throwOnError(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('revocation write aborted: transaction discarded by Redis');
  for (const [error] of results) {
    if (error) throw error;
  }
}
