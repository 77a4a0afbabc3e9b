import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisClient } from '@portcullis/revocation';
import { type EchoUpstream, bearer, call, formPost, jsonRequest, passwordSession, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, TEST_ADMIN, spawnAuth, spawnService, tempDataDir } from './support/processes.js';
import { type RedisCluster, startRedisCluster } from './support/redis.js';

const WAIT = { timeout: 10_000, interval: 20 };

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
    auth = await spawnAuth(data.dir, {
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
    const admin = await passwordSession(entry, TEST_ADMIN.email, TEST_ADMIN.password);
    const { id, key } = (await call(entry, '/api/v1/api_tokens', jsonRequest('POST', admin, { name: 'cluster' }))).json() as { id: string; key: string };
    const exchangeFor = async (pat: string) => (await call(entry, '/auth/v1/token', formPost({ pat }))).json().access_token as string;
    const [first, second] = [await exchangeFor(key), await exchangeFor(key)];
    await everyGatewayAnswers(first, 200);

    const revoked = await call(entry, '/auth/v1/revoke', formPost({ token: first }));
    expect(revoked.status).toBe(200);
    await everyGatewayAnswers(first, 401);
    await everyGatewayAnswers(second, 200); // one jti, not the PAT

    const disabled = await call(entry, `/api/v1/api_tokens/${id}`, jsonRequest('PATCH', admin, { enabled: false }));
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
    const live = await exchangeFor((await call(entry, '/api/v1/api_tokens', jsonRequest('POST', admin, { name: 'live' }))).json().key as string);
    await everyGatewayAnswers(live, 200);
    for (const token of [first, second]) expect((await call(late.url, '/things', { headers: bearer(token) })).status).toBe(401);
  });
});
