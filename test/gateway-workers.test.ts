import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EchoUpstream, bearer, call, formPost, jsonRequest, passwordSession, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, TEST_ADMIN, runToExit, spawnAuth, spawnService, tempDataDir } from './support/processes.js';
import { type RedisServer, startRedis } from './support/redis.js';

const WAIT = { timeout: 10_000, interval: 20 };

/** GATEWAY_WORKERS=2: two gateway processes behind one port, one primary; real auth and Redis. */
describe('a gateway with GATEWAY_WORKERS=2', () => {
  let redis: RedisServer;
  let data: ReturnType<typeof tempDataDir>;
  let upstream: EchoUpstream;
  let auth: ServiceProcess;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    redis = await startRedis();
    data = tempDataDir();
    upstream = await startEchoUpstream();
    auth = await spawnAuth(data.dir, { REDIS_URL: redis.url });
    gateway = await spawnService('gateway', { GATEWAY_PORT: '0', AUTH_URL: auth.url, UPSTREAM_URL: upstream.url, REDIS_URL: redis.url, GATEWAY_WORKERS: '2' });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await auth?.stop();
    await upstream?.close();
    await redis?.close();
    data?.remove();
  });

  let proxied200 = 0;
  /** A request on a connection of its own, so the primary may hand it to either worker; 200s are counted. */
  const fresh = async (token: string) => {
    const res = await call(gateway.url, '/things', { headers: [...bearer(token), ['connection', 'close']] });
    if (res.status === 200) proxied200 += 1;
    return res;
  };
  const requestPids = () =>
    new Set(
      gateway.output
        .filter((line) => line.includes('"msg":"request"'))
        .map((line) => (JSON.parse(line) as { pid: number }).pid),
    );

  it('serves from both workers, stops a revoked PAT in each, and sums their metrics', async () => {
    const admin = await passwordSession(gateway.url, TEST_ADMIN.email, TEST_ADMIN.password);
    const created = await call(gateway.url, '/api/v1/api_tokens', jsonRequest('POST', admin, { name: 'w' }));
    const { id, key } = created.json() as { id: string; key: string };
    const session = (await call(gateway.url, '/auth/v1/token', formPost({ pat: key }))).json().access_token as string;

    // Round-robin over fresh connections: both workers answer within a handful of requests.
    await vi.waitFor(async () => {
      expect((await fresh(session)).status).toBe(200);
      expect(requestPids().size).toBe(2);
    }, WAIT);

    await call(gateway.url, `/api/v1/api_tokens/${id}`, jsonRequest('PATCH', admin, { enabled: false }));
    await vi.waitFor(async () => {
      const statuses = await Promise.all(Array.from({ length: 8 }, () => fresh(session).then((r) => r.status)));
      expect(statuses).toEqual(Array(8).fill(401));
    }, WAIT);

    // Every proxied 200 so far, whichever worker served it, is in the one /metrics answer. The workers
    // write their access lines in batches (up to 50 ms late): first the log catches up with the answers.
    const served200 = () => gateway.output.filter((line) => line.includes('"msg":"request"') && line.includes('"route":"/"') && line.includes('"status":200')).length;
    await vi.waitFor(() => expect(served200()).toBe(proxied200), WAIT);
    const metrics = (await call(gateway.url, '/metrics')).body.toString();
    const counted = /portcullis_gateway_requests_total\{route="\/",status="200"\} (\d+)/.exec(metrics);
    expect(Number(counted?.[1])).toBe(proxied200);
    expect(metrics).toMatch(/portcullis_gateway_revocation_entries \d+/);
  });

  it('replaces a worker that dies', async () => {
    const [victim] = [...requestPids()];
    process.kill(victim!, 'SIGKILL');
    await vi.waitFor(() => expect(gateway.output.some((line) => line.includes('gateway worker died'))).toBe(true), WAIT);
    const token = await passwordSession(gateway.url, TEST_ADMIN.email, TEST_ADMIN.password);
    await vi.waitFor(async () => {
      expect((await fresh(token)).status).toBe(200);
      expect(requestPids().size).toBe(3); // the two first workers and the replacement
    }, WAIT);
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    expect(await gateway.stop()).toBe(0);
    expect(gateway.output.filter((line) => line.includes('"msg":"stopped"'))).toHaveLength(3); // two workers, then the primary
  });
});

describe('GATEWAY_WORKERS whose workers cannot start', () => {
  it('gives up with exit code 1 instead of restarting them forever (the port is taken)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const result = await runToExit('gateway', {
        UPSTREAM_URL: 'http://127.0.0.1:1',
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        GATEWAY_WORKERS: '2',
        REDIS_URL: 'redis://127.0.0.1:1',
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('gateway workers keep dying at start; giving up');
    } finally {
      taken.close();
    }
  }, 90_000); // each worker boots under tsx, and the primary waits a second before each restart
});

describe('GATEWAY_WORKERS without Redis', () => {
  it('is refused at start: the in-process bus cannot reach other processes', async () => {
    const result = await runToExit('gateway', { UPSTREAM_URL: 'http://127.0.0.1:1', GATEWAY_WORKERS: '2' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('GATEWAY_WORKERS: more than one process needs Redis');
  });
});
