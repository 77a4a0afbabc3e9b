import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { call, jsonRequest, passwordSession } from './support/gateway-harness.js';
import { type ServiceProcess, TEST_ADMIN, spawnAuth, tempDataDir } from './support/processes.js';
import { type RedisServer, startRedis } from './support/redis.js';

const IP_FAILURES = 4;

/**
 * Auth keeps its exchange failure limits in Redis, shared by its replicas. Redis going away must not stop
 * exchanges (PostgreSQL holds every credential), nor lift the limits: while Redis is down each process
 * counts failures in memory, and Redis takes over again once it is back.
 */
describe('auth while its Redis is down', () => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDataDir>;
  let auth: ServiceProcess;
  let patKey: string;

  async function exchange(pat: string, ip: string): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
    const res = await fetch(`${auth.url}/auth/v1/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': ip },
      body: new URLSearchParams({ pat }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, retryAfter: res.headers.get('retry-after') };
  }

  beforeAll(async () => {
    redis = await startRedis();
    data = tempDataDir();
    auth = await spawnAuth(data.dir, { REDIS_URL: redis.url, JWT_ISSUER: 'http://auth.test', RATE_LIMIT_IP_FAILURES: String(IP_FAILURES) });
    const session = await passwordSession(auth.url, TEST_ADMIN.email, TEST_ADMIN.password);
    const created = await call(auth.url, '/api/v1/api_tokens', jsonRequest('POST', session, { name: 'outage' }));
    patKey = created.json().key as string;
  }, 120_000);

  afterAll(async () => {
    await auth?.stop();
    await redis?.close();
    data?.remove();
  });

  it('exchanges PATs, counts failures per process, and hands the limits back to Redis when it returns', async () => {
    expect((await exchange(patKey, '203.0.113.1')).status).toBe(200);

    await redis.stop();
    const during = await exchange(patKey, '203.0.113.2');
    expect(during.status).toBe(200);
    expect(during.body.access_token).toEqual(expect.any(String));

    // Failures still count while Redis is down: the address is refused once it has used them all.
    for (let i = 0; i < IP_FAILURES; i++) expect((await exchange('pcl_garbage', '203.0.113.3')).status).toBe(400);
    const blocked = await exchange(patKey, '203.0.113.3');
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('rate_limited');
    expect(Number(blocked.retryAfter)).toBeGreaterThan(0);
    // Another address is not.
    expect((await exchange(patKey, '203.0.113.4')).status).toBe(200);

    await redis.start();
    expect((await exchange(patKey, '203.0.113.5')).status).toBe(200);
    // Back on Redis once auth has reconnected: a failure is recorded there, where every replica reads it.
    const client = new Redis(redis.url);
    try {
      let attempt = 0;
      await vi.waitFor(
        async () => {
          const ip = `198.51.100.${++attempt}`;
          expect((await exchange('pcl_garbage', ip)).status).toBe(400);
          expect(await client.keys(`*${ip}*`)).toHaveLength(1);
        },
        { timeout: 10_000, interval: 100 },
      );
    } finally {
      client.disconnect();
    }
  });
});
