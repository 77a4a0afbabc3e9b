import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisClient } from '@portcullis/revocation';
import { type EchoUpstream, bearer, call, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, spawnService, tempDataDir } from './support/processes.js';
import { type RedisCluster, startRedisCluster } from './support/redis.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const WAIT = { timeout: 10_000, interval: 20 };

const form = (body: Record<string, string>) => ({
  method: 'POST',
  headers: [['content-type', 'application/x-www-form-urlencoded']] as [string, string][],
  body: new URLSearchParams(body).toString(),
});
const json = (method: string, token: string, body: unknown) => ({
  method,
  headers: [...bearer(token), ['content-type', 'application/json']] as [string, string][],
  body: JSON.stringify(body),
});

/** Auth and two gateways on a three-node Redis Cluster (REDIS_CLUSTER_NODES): revocation reaches both. */
describe('Redis Cluster', () => {
  let cluster: RedisCluster;
  let data: ReturnType<typeof tempDataDir>;
  let upstream: EchoUpstream;
  let auth: ServiceProcess;
  let gateways: ServiceProcess[] = [];
  let gatewayEnv: Record<string, string>;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    data = tempDataDir();
    upstream = await startEchoUpstream();
    // Auth knows one node, the gateways another: each finds the rest from the cluster's topology.
    auth = await spawnService('auth', {
      AUTH_PORT: '0',
      AUTH_HOST: '127.0.0.1',
      DATA_DIR: data.dir,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      BCRYPT_COST: '4',
      REVOCATION_REBUILD_INTERVAL: '200ms',
      REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.nodes[0]!.port}`,
    });
    gatewayEnv = { GATEWAY_PORT: '0', AUTH_URL: auth.url, UPSTREAM_URL: upstream.url, REDIS_CLUSTER_NODES: cluster.addresses };
    gateways = await Promise.all([spawnService('gateway', gatewayEnv), spawnService('gateway', gatewayEnv)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await auth?.stop();
    await upstream?.close();
    await cluster?.close();
    data?.remove();
  });

  async function everyGatewayAnswers(token: string, status: number): Promise<void> {
    await vi.waitFor(async () => {
      for (const gateway of gateways) expect((await call(gateway.url, '/things', { headers: bearer(token) })).status).toBe(status);
    }, WAIT);
  }

  it('a revoked session and a disabled PAT are refused by every gateway; a FLUSHALL brings neither back', async () => {
    const entry = gateways[0]!.url;
    const admin = (await call(entry, '/auth/v1/token', form({ grant_type: 'password', username: ADMIN.email, password: ADMIN.password }))).json()
      .access_token as string;
    const { id, key } = (await call(entry, '/api/v1/api_tokens', json('POST', admin, { name: 'cluster' }))).json() as { id: string; key: string };
    const exchangeFor = async (pat: string) => (await call(entry, '/auth/v1/token', form({ pat }))).json().access_token as string;
    const [first, second] = [await exchangeFor(key), await exchangeFor(key)];
    await everyGatewayAnswers(first, 200);

    const revoked = await call(entry, '/auth/v1/revoke', form({ token: first }));
    expect(revoked.status).toBe(200);
    await everyGatewayAnswers(first, 401);
    await everyGatewayAnswers(second, 200); // one jti, not the PAT

    const disabled = await call(entry, `/api/v1/api_tokens/${id}`, json('PATCH', admin, { enabled: false }));
    expect(disabled.status).toBe(200);
    await everyGatewayAnswers(second, 401);

    // The cluster loses everything; auth's rebuild puts the record back from PostgreSQL. A gateway started
    // afterwards never saw a message, so only the rebuilt set can tell it.
    await cluster.flushAll();
    const probe = createRedisClient({ clusterNodes: [{ host: '127.0.0.1', port: cluster.nodes[1]!.port }] });
    probe.on('error', () => {});
    await vi.waitFor(async () => expect(await probe.zcard('{portcullis}:revoked')).toBe(2), WAIT);
    probe.disconnect();
    const late = await spawnService('gateway', gatewayEnv);
    gateways.push(late);
    const live = await exchangeFor((await call(entry, '/api/v1/api_tokens', json('POST', admin, { name: 'live' }))).json().key as string);
    await everyGatewayAnswers(live, 200);
    for (const token of [first, second]) expect((await call(late.url, '/things', { headers: bearer(token) })).status).toBe(401);
  });
});
