import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listenEcho } from '../services/standalone/src/echo.js';
import { type ServiceProcess, TEST_ADMIN, spawnAuth, spawnService, tempDataDir } from './support/processes.js';
import { type RedisServer, startRedis } from './support/redis.js';

const WAIT = { timeout: 10_000, interval: 20 };

/**
 * Issue 4 across processes: one auth, three gateways, a private redis-server. Nothing is restarted
 * between a revocation and the gateways refusing the token.
 */
describe('revocation across processes (real Redis)', () => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDataDir>;
  let echo: Awaited<ReturnType<typeof listenEcho>>;
  let auth: ServiceProcess;
  const gateways: ServiceProcess[] = [];

  const gatewayEnv = () => ({
    AUTH_URL: auth.url,
    JWT_ISSUER: 'http://auth.test',
    UPSTREAM_URL: echo.url,
    REDIS_URL: redis.url,
    GATEWAY_PORT: '0',
    REVOCATION_STALENESS: '1s',
  });

  beforeAll(async () => {
    redis = await startRedis();
    data = tempDataDir();
    echo = await listenEcho();
    auth = await spawnAuth(data.dir, { REDIS_URL: redis.url, JWT_ISSUER: 'http://auth.test', REVOCATION_REBUILD_INTERVAL: '200ms' });
    for (let i = 0; i < 3; i++) gateways.push(await spawnService('gateway', gatewayEnv()));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await auth?.stop();
    await echo?.close();
    await redis?.close();
    data?.remove();
  });

  async function call(gateway: ServiceProcess, token: string): Promise<number> {
    const res = await fetch(`${gateway.url}/things`, { headers: { Authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return res.status;
  }

  const statuses = (token: string, among = gateways) => Promise.all(among.map((g) => call(g, token)));

  async function post(path: string, body: Record<string, string>, session?: string) {
    const res = await fetch(`${gateways[0]!.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(session ? { Authorization: `Bearer ${session}` } : {}) },
      body: new URLSearchParams(body),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, string> };
  }

  async function api(method: string, path: string, session: string, body?: unknown) {
    const res = await fetch(`${gateways[0]!.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${session}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, string> };
  }

  let admin: string;
  async function newPat(): Promise<{ id: string; key: string }> {
    admin ??= (await post('/auth/v1/token', { grant_type: 'password', username: TEST_ADMIN.email, password: TEST_ADMIN.password })).body.access_token!;
    const created = await api('POST', '/api/v1/api_tokens', admin, { name: 'e2e' });
    expect(created.status).toBe(201);
    return { id: created.body.id!, key: created.body.key! };
  }
  async function session(key: string): Promise<string> {
    const res = await post('/auth/v1/token', { pat: key });
    expect(res.status).toBe(200);
    return res.body.access_token!;
  }

  it('a disabled PAT: all three gateways refuse its sessions, without a restart', async () => {
    const pat = await newPat();
    const [a, b] = [await session(pat.key), await session(pat.key)];
    expect(await statuses(a)).toEqual([200, 200, 200]);
    expect((await api('PATCH', `/api/v1/api_tokens/${pat.id}`, admin, { enabled: false })).status).toBe(200);
    await vi.waitFor(async () => expect([...(await statuses(a)), ...(await statuses(b))]).toEqual([401, 401, 401, 401, 401, 401]), WAIT);
  });

  it('deleting, retiring, or moving the expiry into the past revokes too', async () => {
    for (const change of [
      (id: string) => api('DELETE', `/api/v1/api_tokens/${id}`, admin),
      (id: string) => api('POST', `/api/v1/api_tokens/${id}/retire`, admin),
      (id: string) => api('PATCH', `/api/v1/api_tokens/${id}`, admin, { ttl: '1s' }),
    ]) {
      const pat = await newPat();
      const s = await session(pat.key);
      expect(await statuses(s)).toEqual([200, 200, 200]);
      expect((await change(pat.id)).status).toBeLessThan(300);
      await vi.waitFor(async () => expect(await statuses(s)).toEqual([401, 401, 401]), WAIT);
    }
  });

  it('one session (jti) revoked through RFC 7009: only that one stops', async () => {
    const pat = await newPat();
    const [victim, sibling] = [await session(pat.key), await session(pat.key)];
    expect((await post('/auth/v1/revoke', { token: victim })).status).toBe(200);
    await vi.waitFor(async () => expect(await statuses(victim)).toEqual([401, 401, 401]), WAIT);
    expect(await statuses(sibling)).toEqual([200, 200, 200]);
  });

  it('FLUSHALL and a Redis restart bring no revoked token back; live ones keep working', async () => {
    const revokedPat = await newPat();
    const revoked = await session(revokedPat.key);
    const live = await session((await newPat()).key);
    await api('PATCH', `/api/v1/api_tokens/${revokedPat.id}`, admin, { enabled: false });
    await vi.waitFor(async () => expect(await statuses(revoked)).toEqual([401, 401, 401]), WAIT);

    await redis.flushAll();
    const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await probe.connect();
    // auth puts the record back (at start and every REVOCATION_REBUILD_INTERVAL)
    await vi.waitFor(async () => expect(await probe.zcard('{portcullis}:revoked')).toBeGreaterThan(0), WAIT);
    probe.disconnect();
    expect(await statuses(revoked)).toEqual([401, 401, 401]);

    await redis.stop();
    await redis.start();
    await vi.waitFor(async () => expect(await statuses(live)).toEqual([200, 200, 200]), WAIT);
    expect(await statuses(revoked)).toEqual([401, 401, 401]);

    // A gateway started now learns the revocation from the rebuilt set, never having seen the message.
    const late = await spawnService('gateway', gatewayEnv());
    gateways.push(late);
    await vi.waitFor(async () => expect(await call(late, live)).toBe(200), WAIT);
    expect(await call(late, revoked)).toBe(401);

    // The gateways that lived through the restart say why they reloaded; the late one never had to.
    const reloads = async (g: ServiceProcess) => (await (await fetch(`${g.url}/metrics`)).text()).match(/^portcullis_gateway_revocation_reloads_total\{reason="reconnect"\} (\d+)$/m)?.[1];
    for (const g of gateways.slice(0, 3)) expect(Number(await reloads(g))).toBeGreaterThanOrEqual(1);
    expect(await reloads(late)).toBeUndefined();
  });

  it('Redis gone past the staleness bound: 503 (fail closed); back: service resumes by itself', async () => {
    const live = await session((await newPat()).key);
    const first3 = gateways.slice(0, 3);
    expect(await statuses(live, first3)).toEqual([200, 200, 200]);
    await redis.stop();
    await vi.waitFor(async () => expect(await statuses(live, first3)).toEqual([503, 503, 503]), WAIT);
    const res = await fetch(`${first3[0]!.url}/things`, { headers: { Authorization: `Bearer ${live}` } });
    expect(await res.json()).toMatchObject({ code: 'service_unavailable', requestId: expect.any(String) });
    await redis.start();
    await vi.waitFor(async () => expect(await statuses(live, first3)).toEqual([200, 200, 200]), WAIT);
  });
});
