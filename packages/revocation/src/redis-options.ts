import type { RedisOptions } from 'ioredis';

/**
 * ioredis options for the connections given to the Redis writer and source; pass `overrides` for the
 * host, credentials, Sentinel and the like. Why each one:
 *
 * - `retryStrategy` never gives up: a gateway outlives any Redis outage, failing closed meanwhile, and must
 *   reconnect (and resync) by itself when Redis is back.
 * - `maxRetriesPerRequest: 1`: a command issued while Redis is down fails after one failed reconnect rather
 *   than twenty, so a revoke reports the outage to auth promptly (PostgreSQL has it; the rebuild restores
 *   Redis) and the source's heartbeat retries instead of piling up queued commands.
 * - The offline queue stays on, so commands issued before the first connect wait for it instead of failing.
 * - `socketTimeout`: a pending command (the heartbeat's PING, every second) with no reply for this long
 *   destroys the socket and reconnects; a half-open TCP connection would otherwise never be noticed.
 */
export function redisOptionsForRevocation(overrides: RedisOptions = {}): RedisOptions {
  return {
    retryStrategy: (times) => Math.min(times * 100, 2000),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    socketTimeout: 5000,
    connectTimeout: 5000,
    ...overrides,
  };
}
