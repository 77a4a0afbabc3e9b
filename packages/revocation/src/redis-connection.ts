import { Redis, type RedisOptions } from 'ioredis';
import { createRedisRevocationSource } from './redis-source.js';
import type { RevocationSource } from './types.js';
import { redisOptionsForRevocation } from './redis-options.js';

/**
 * Where Redis is: one node (`url`), or a primary found through Sentinel (`sentinels` + `sentinelName`),
 * in which case `url` may still carry the password and database of the primary.
 */
export interface RedisTarget {
  url?: string | undefined;
  sentinels?: readonly { host: string; port: number }[] | undefined;
  sentinelName?: string | undefined;
  sentinelPassword?: string | undefined;
}

/**
 * A client for the revocation cache (and rate limits) with `redisOptionsForRevocation()`. Through Sentinel,
 * ioredis asks the sentinels for the current primary at every (re)connect, so a failover is followed.
 */
export function createRedisClient(target: RedisTarget, overrides: RedisOptions = {}): Redis {
  if (target.sentinels && target.sentinels.length > 0) {
    const primary = target.url ? new URL(target.url) : undefined;
    return new Redis(
      redisOptionsForRevocation({
        sentinels: [...target.sentinels],
        name: target.sentinelName ?? 'mymaster',
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(primary?.username ? { username: decodeURIComponent(primary.username) } : {}),
        ...(primary?.password ? { password: decodeURIComponent(primary.password) } : {}),
        ...(primary && primary.pathname.length > 1 ? { db: Number(primary.pathname.slice(1)) } : {}),
        ...(primary?.protocol === 'rediss:' ? { tls: {} } : {}),
        ...overrides,
      }),
    );
  }
  if (!target.url) throw new Error('Redis needs a URL or a list of sentinels');
  return new Redis(target.url, redisOptionsForRevocation(overrides));
}

/** True when a target names Redis at all (a URL or sentinels). */
export function hasRedis(target: RedisTarget): boolean {
  return Boolean(target.url) || Boolean(target.sentinels && target.sentinels.length > 0);
}

/**
 * A reader's source on Redis, with the two connections it needs (a subscribed connection refuses ordinary
 * commands). `close()` stops the source and quits both connections.
 */
export function connectRevocationSource(
  target: RedisTarget,
  onError: (error: unknown) => void,
): { source: RevocationSource; close: () => Promise<void> } {
  const subscriber = createRedisClient(target);
  const command = createRedisClient(target);
  for (const client of [subscriber, command]) client.on('error', onError);
  const source = createRedisRevocationSource({ subscriber, command, onError });
  return {
    source,
    close: async () => {
      await Promise.all([subscriber, command].map((client) => client.quit().then(() => undefined, () => client.disconnect())));
    },
  };
}
