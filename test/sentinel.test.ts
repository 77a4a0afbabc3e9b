import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EchoUpstream, bearer, call, formPost, jsonRequest, passwordSession, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, TEST_ADMIN, spawnAuth, spawnService, tempDataDir } from './support/processes.js';
import { type RedisServer, type SentinelServer, startRedis, startSentinel } from './support/redis.js';

const WAIT = { timeout: 10_000, interval: 20 };

/** Both services find Redis through Sentinel (REDIS_SENTINELS), and revocation works across them. */
describe('Redis through Sentinel', () => {
  let redis: RedisServer;
  let sentinel: SentinelServer;
  let data: ReturnType<typeof tempDataDir>;
  let upstream: EchoUpstream;
  let auth: ServiceProcess;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    redis = await startRedis();
    sentinel = await startSentinel(redis.port);
    data = tempDataDir();
    upstream = await startEchoUpstream();
    const redisEnv = { REDIS_SENTINELS: sentinel.address, REDIS_SENTINEL_NAME: 'mymaster' };
    auth = await spawnAuth(data.dir, redisEnv);
    gateway = await spawnService('gateway', { GATEWAY_PORT: '0', AUTH_URL: auth.url, UPSTREAM_URL: upstream.url, ...redisEnv });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await auth?.stop();
    await upstream?.close();
    await sentinel?.close();
    await redis?.close();
    data?.remove();
  });

  it('a PAT disabled at auth is refused by the gateway, both connected through the sentinel', async () => {
    const admin = await passwordSession(gateway.url, TEST_ADMIN.email, TEST_ADMIN.password);
    const created = await call(gateway.url, '/api/v1/api_tokens', jsonRequest('POST', admin, { name: 's' }));
    const { id, key } = created.json() as { id: string; key: string };
    const session = (await call(gateway.url, '/auth/v1/token', formPost({ pat: key }))).json().access_token as string;
    await vi.waitFor(async () => expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(200), WAIT);

    await call(gateway.url, `/api/v1/api_tokens/${id}`, jsonRequest('PATCH', admin, { enabled: false }));
    await vi.waitFor(async () => expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(401), WAIT);
    const readyz = await call(gateway.url, '/readyz');
    expect(readyz.status).toBe(200);
  });
});
