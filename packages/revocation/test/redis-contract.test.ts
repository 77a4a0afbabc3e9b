import { afterAll } from 'vitest';
import { createRedisRevocationSource, createRedisRevocationWriter, revocationKeys } from '../src/index.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { revocationBackendContract } from './contract.js';
import { redisClients } from './redis-clients.js';

let server: RedisServer | undefined;
const clients = redisClients(() => server!);

afterAll(async () => {
  clients.closeAll();
  await server?.close();
});

revocationBackendContract('Redis', async (now) => {
  server = await startRedis();
  const command = clients.connect();
  const writer = createRedisRevocationWriter(command, { now });
  return {
    writer,
    source: () => createRedisRevocationSource({ ...clients.pair(), now, heartbeatMs: 50 }),
    wipe: () => server!.flushAll(),
    reset: () => server!.flushAll(),
    stored: () => command.zcard(revocationKeys().set),
    close: () => writer.close(),
  };
});
