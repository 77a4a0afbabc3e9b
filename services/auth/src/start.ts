import { redisTarget } from '@portcullis/config';
import type { Logger } from 'pino';
import type { Server } from 'node:http';
import {
  MemoryRevocationBus,
  createRedisClient,
  createRedisRevocationWriter,
  hasRedis,
  type RedisClient,
  type RevocationWriter,
} from '@portcullis/revocation';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { createApp } from './app.js';
import type { AuthConfig } from './config.js';
import { bootstrapFirstAdmin, type FirstAdmin } from './domain/bootstrap.js';
import { createExchangeLimiter } from './domain/limiter.js';
import { createLogger } from './logger.js';
import { drain, listen } from './server.js';
import type { Database } from './storage/database.js';
import { migrate } from './storage/migrations.js';
import { openPostgres } from './storage/pg.js';
import { openPglite } from './storage/pglite.js';
import { createStore } from './storage/store.js';
import { type AuthServices, createAuthServices } from './wire.js';

export interface AuthHandle {
  url: string;
  server: Server;
  services: AuthServices;
  firstAdmin: FirstAdmin | null;
  close(): Promise<void>;
}

/**
 * Opens PostgreSQL (or PGlite), Redis (or the given in-process bus), builds the service and listens.
 * The composition root shared by `main.ts` (auth alone) and `services/standalone` (npm start).
 */
export async function startAuth(
  config: AuthConfig,
  options: { log?: Logger; bus?: MemoryRevocationBus; onFirstAdmin?: (admin: FirstAdmin) => void } = {},
): Promise<AuthHandle> {
  const log = options.log ?? createLogger(config.LOG_LEVEL, 'auth');
  const db: Database = config.DATABASE_URL ? openPostgres(config.DATABASE_URL) : await openPglite(config.DATA_DIR);
  await migrate(db);
  const store = createStore(db);

  let redis: RedisClient | undefined;
  let writer: RevocationWriter;
  const target = redisTarget(config);
  if (hasRedis(target)) {
    redis = createRedisClient(target);
    redis.on('error', (error: Error) => log.warn({ err: error.message }, 'redis connection problem'));
    writer = createRedisRevocationWriter(redis);
  } else {
    if (!options.bus) log.warn('REDIS_URL is not set: revocations reach only gateways in this process');
    writer = options.bus ?? new MemoryRevocationBus();
  }

  const limits = {
    ipFailures: config.RATE_LIMIT_IP_FAILURES,
    tokenFailures: config.RATE_LIMIT_TOKEN_FAILURES,
    windowSec: Math.ceil(config.RATE_LIMIT_WINDOW / 1000),
    blockSec: Math.ceil(config.RATE_LIMIT_WINDOW / 1000),
  };
  const client = redis;
  // Redis holds the limits every replica shares. While it is unreachable, each process counts failures in
  // memory (rate-limiter-flexible's insurance limiter) rather than failing exchanges: PostgreSQL has the
  // credentials. Not ready means at once, without waiting for a command to time out.
  const limiter = client
    ? createExchangeLimiter(
        limits,
        (o) => new RateLimiterRedis({ ...o, storeClient: client, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(o) }),
      )
    : createExchangeLimiter(limits);

  const services = await createAuthServices({
    config,
    store,
    writer,
    log,
    limiter,
    ...(client ? { redisPing: async () => void (await client.ping()) } : {}),
  });

  const firstAdmin = await bootstrapFirstAdmin(store, services.hasher, {
    email: config.ADMIN_EMAIL,
    ...(config.ADMIN_PASSWORD ? { password: config.ADMIN_PASSWORD } : {}),
    organizationName: config.ORGANIZATION_NAME,
  });
  if (firstAdmin) options.onFirstAdmin?.(firstAdmin);

  // Redis is a cache: put every live revocation back at start, and keep doing so.
  const rebuild = () =>
    services.revoker.rebuild().then(
      (n) => log.debug({ entries: n }, 'revocation cache rebuilt'),
      (error: unknown) => log.warn({ err: error }, 'revocation cache rebuild failed'),
    );
  await rebuild();
  const rebuildTimer = setInterval(() => void rebuild(), config.REVOCATION_REBUILD_INTERVAL);
  rebuildTimer.unref();
  services.usage.start(config.USAGE_FLUSH_INTERVAL);

  const { server, url } = await listen(createApp(services), config.AUTH_PORT, config.AUTH_HOST);
  log.info({ url, store: db.kind, redis: Boolean(redis) }, 'auth listening');

  return {
    url,
    server,
    services,
    firstAdmin,
    async close() {
      clearInterval(rebuildTimer);
      await drain(server, config.SHUTDOWN_TIMEOUT);
      await services.usage.stop();
      await writer.close();
      if (redis) await redis.quit().catch(() => redis.disconnect());
      await db.close();
    },
  };
}
