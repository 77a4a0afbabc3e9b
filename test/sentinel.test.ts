import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EchoUpstream, bearer, call, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, spawnService, tempDataDir } from './support/processes.js';
import { type RedisServer, type SentinelServer, startRedis, startSentinel } from './support/redis.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
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
    auth = await spawnService('auth', { AUTH_PORT: '0', AUTH_HOST: '127.0.0.1', DATA_DIR: data.dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, BCRYPT_COST: '4', ...redisEnv });
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
    const form = (body: Record<string, string>) => ({
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded']] as [string, string][],
      body: new URLSearchParams(body).toString(),
    });
    const admin = (await call(gateway.url, '/auth/v1/token', form({ grant_type: 'password', username: ADMIN.email, password: ADMIN.password }))).json().access_token as string;
    const created = await call(gateway.url, '/api/v1/api_tokens', { method: 'POST', headers: [...bearer(admin), ['content-type', 'application/json']], body: '{"name":"s"}' });
    const { id, key } = created.json() as { id: string; key: string };
    const session = (await call(gateway.url, '/auth/v1/token', form({ pat: key }))).json().access_token as string;
    await vi.waitFor(async () => expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(200), WAIT);

    await call(gateway.url, `/api/v1/api_tokens/${id}`, { method: 'PATCH', headers: [...bearer(admin), ['content-type', 'application/json']], body: '{"enabled":false}' });
    await vi.waitFor(async () => expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(401), WAIT);
    const readyz = await call(gateway.url, '/readyz');
    expect(readyz.status).toBe(200);
  });
});
