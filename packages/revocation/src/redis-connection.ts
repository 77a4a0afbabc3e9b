import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { createRedisRevocationSource } from './redis-source.js';
import type { RedisClient } from './redis-writer.js';
import type { RevocationSource } from './types.js';
import { redisOptionsForRevocation } from './redis-options.js';

type HostPort = { host: string; port: number };

/**
 * Where Redis is: one node (`url`); a primary found through Sentinel (`sentinels` + `sentinelName`); or a
 * Cluster (`clusterNodes`, any reachable subset of its nodes). With Sentinel or Cluster, `url` may still
 * carry the password (and for Sentinel, the database) of the data nodes.
 */
export interface RedisTarget {
  url?: string | undefined;
  sentinels?: readonly HostPort[] | undefined;
  sentinelName?: string | undefined;
  sentinelPassword?: string | undefined;
  clusterNodes?: readonly HostPort[] | undefined;
}

/**
 * A client for the revocation cache (and rate limits) with `redisOptionsForRevocation()`. Through Sentinel,
 * ioredis asks the sentinels for the current primary at every (re)connect, so a failover is followed; on a
 * Cluster, it follows slot moves and failovers from the cluster's own topology.
 */
export function createRedisClient(target: RedisTarget, overrides: RedisOptions = {}): RedisClient {
  const credentials = credentialsOf(target.url);
  if (target.clusterNodes && target.clusterNodes.length > 0) {
    const { retryStrategy, ...nodeOptions } = redisOptionsForRevocation({ ...credentials, ...overrides });
    return new Cluster([...target.clusterNodes], {
      // The cluster-wide reconnect: like a single node's, it never gives up.
      clusterRetryStrategy: (times) => (retryStrategy ? retryStrategy(times) : null),
      enableOfflineQueue: true,
      redisOptions: nodeOptions,
    });
  }
  if (target.sentinels && target.sentinels.length > 0) {
    return new Redis(
      redisOptionsForRevocation({
        sentinels: [...target.sentinels],
        name: target.sentinelName ?? 'mymaster',
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...credentials,
        ...overrides,
      }),
    );
  }
  if (!target.url) throw new Error('Redis needs a URL, a list of sentinels or a list of cluster nodes');
  return new Redis(target.url, redisOptionsForRevocation(overrides));
}

/** The username, password, database and TLS a `redis://` or `rediss://` URL carries, as ioredis options. */
function credentialsOf(url: string | undefined): RedisOptions {
  if (!url) return {};
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.pathname.length > 1 ? { db: Number(parsed.pathname.slice(1)) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** True when a target names Redis at all (a URL, sentinels or cluster nodes). */
export function hasRedis(target: RedisTarget): boolean {
  return Boolean(target.url) || Boolean(target.sentinels?.length) || Boolean(target.clusterNodes?.length);
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
