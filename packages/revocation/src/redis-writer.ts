import type { Cluster, Redis } from 'ioredis';
import { assertRevocationEntries } from './entry.js';
import { revocationKeys } from './keys.js';
import { encodeMember } from './member.js';
import { encodeEntriesMessage, encodeResyncMessage } from './message.js';
import type { RevocationEntry, RevocationWriter } from './types.js';

/** One Redis node (direct or found through Sentinel) or a Redis Cluster: the protocol works on each. */
export type RedisClient = Redis | Cluster;

/** Entries per ZADD (and per published message): keeps each command and each script short for Redis. */
export const REVOCATION_WRITE_CHUNK = 1000;

/**
 * Adds the entries (ARGV[4..], score/member pairs) with GT, prunes what ended before ARGV[2], bumps the
 * sequence and publishes ARGV[3] with that sequence spliced in as its first field, all at once. Both keys
 * share a hash tag, so under Cluster the script runs on the node that owns them, and every message leaves
 * from that one node in sequence order.
 */
const PUBLISH_SCRIPT = `
if #ARGV > 3 then redis.call('ZADD', KEYS[1], 'GT', unpack(ARGV, 4)) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local seq = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], '{"seq":' .. seq .. ',' .. string.sub(ARGV[3], 2))
return seq
`;

/**
 * One chunk of a rebuild: adds the entries (ARGV, score/member pairs) with GT, and marks a resync owed when
 * that added a member or raised a score (CH counts both). The mark is kept in Redis, so a writer that stops
 * before announcing leaves it to whichever writer ends a rebuild next.
 */
const REBUILD_CHUNK_SCRIPT = `
local changed = redis.call('ZADD', KEYS[1], 'GT', 'CH', unpack(ARGV))
if changed > 0 then redis.call('SET', KEYS[2], '1') end
return changed
`;

/**
 * The end of a rebuild: prunes what ended before ARGV[2] and, only if a resync is owed, clears the mark,
 * bumps the sequence and publishes ARGV[3] with it, as PUBLISH_SCRIPT does. Returns the sequence, or 0.
 */
const REBUILD_END_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('DEL', KEYS[3]) == 0 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], '{"seq":' .. seq .. ',' .. string.sub(ARGV[3], 2))
return seq
`;

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
  redis: RedisClient,
  options: RedisRevocationWriterOptions = {},
): RevocationWriter {
  const keys = revocationKeys(options.keyPrefix);
  const now = options.now ?? Date.now;

  // GT: a member's score only ever grows, so a replayed or rebuilt entry never shortens a live one.
  const pairs = (chunk: readonly RevocationEntry[]): (string | number)[] =>
    chunk.flatMap((entry) => [entry.until, encodeMember(entry)]);
  // Exclusive bound: an entry is kept through its `until` millisecond, as in RevocationSet.
  const publish = (message: string, chunk: readonly RevocationEntry[] = []): Promise<unknown> =>
    redis.eval(PUBLISH_SCRIPT, 2, keys.set, keys.sequence, keys.channel, `(${now()}`, message, ...pairs(chunk));

  return {
    async revoke(entries) {
      assertRevocationEntries(entries);
      // Each chunk is one script: its entries are stored, expired ones pruned and readers told, or none of it.
      for (const chunk of chunks(entries)) await publish(encodeEntriesMessage(chunk), chunk);
    },

    async rebuild(entries) {
      assertRevocationEntries(entries);
      // A union, never a replace: another auth replica may have revoked something after our read of PostgreSQL.
      for (const chunk of chunks(entries)) {
        await redis.eval(REBUILD_CHUNK_SCRIPT, 2, keys.set, keys.resyncOwed, ...pairs(chunk));
      }
      // Readers reload the whole set on `resync`, so they pick up everything the chunks above restored. A
      // rebuild that restored nothing (the usual periodic one) tells no one: reloading every entry on every
      // gateway each REVOCATION_REBUILD_INTERVAL would find nothing new.
      await redis.eval(REBUILD_END_SCRIPT, 3, keys.set, keys.sequence, keys.resyncOwed, keys.channel, `(${now()}`, encodeResyncMessage());
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
