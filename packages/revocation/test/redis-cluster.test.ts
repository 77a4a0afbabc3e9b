import { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  RevocationSet,
  createRedisClient,
  createRedisRevocationSource,
  createRedisRevocationWriter,
  encodeMember,
  revocationKeys,
  type RedisClient,
  type RevocationWriter,
} from '../src/index.js';
import { startRedisCluster, type RedisCluster } from '../../../test/support/redis.js';
import { HOUR, STALENESS_MS, T0, claims, manualClock, sessionEntry, tokenEntry } from './helpers.js';

const { set: SET, sequence: SEQUENCE } = revocationKeys();
const WAIT = { timeout: 10_000, interval: 20 };

/** The same protocol on a three-node Redis Cluster, through ioredis's Cluster client. */
describe('revocation on a Redis Cluster', () => {
  let cluster: RedisCluster;
  const clock = manualClock();
  const clients: RedisClient[] = [];
  const sets: RevocationSet[] = [];
  let writer: RevocationWriter;

  function connect(): RedisClient {
    // One node is enough to find the others: ioredis reads the topology from it.
    const client = createRedisClient({ clusterNodes: [{ host: '127.0.0.1', port: cluster.nodes[0]!.port }] });
    client.on('error', () => {});
    clients.push(client);
    return client;
  }

  async function reader(): Promise<RevocationSet> {
    const source = createRedisRevocationSource({ subscriber: connect(), command: connect(), now: clock.now, heartbeatMs: 50 });
    const set = new RevocationSet({ source, stalenessMs: STALENESS_MS, now: clock.now });
    sets.push(set);
    await set.start();
    return set;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    writer = createRedisRevocationWriter(connect(), { now: clock.now });
  }, 30_000);
  afterEach(async () => {
    await Promise.all(sets.splice(0).map((set) => set.stop()));
    await cluster.flushAll();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await cluster?.close();
  });

  it('connects through Cluster, and keeps the set and its counter on the one node that owns the hash tag', async () => {
    const admin = connect();
    expect(admin).toBeInstanceOf(Cluster);
    await writer.revoke([tokenEntry('pat-1')]);
    const owners = await Promise.all(
      cluster.nodes.map(async (node) => {
        const direct = createRedisClient({ url: node.url });
        direct.on('error', () => {});
        clients.push(direct);
        const [set, sequence] = await Promise.all([direct.exists(SET).catch(() => 0), direct.exists(SEQUENCE).catch(() => 0)]);
        return set + sequence;
      }),
    );
    // Exactly one node holds both keys; the other two answer MOVED (counted as 0).
    expect(owners.sort()).toEqual([0, 0, 2]);
  });

  it('every reader gets a revocation, by message, whichever node its subscription sits on', async () => {
    const readers = await Promise.all([reader(), reader(), reader()]);
    await writer.revoke([tokenEntry('pat-1'), sessionEntry('jti-1')]);
    await vi.waitFor(() => {
      for (const set of readers) {
        expect(set.isRevoked(claims('pat-1'))).toBe(true);
        expect(set.isRevoked(claims(undefined, T0, 'jti-1'))).toBe(true);
        expect(set.isFresh()).toBe(true);
      }
    }, WAIT);
  });

  it('loads what was revoked before it started, and finds a change whose message was lost', async () => {
    await writer.revoke([sessionEntry('jti-before')]);
    const set = await reader();
    expect(set.isRevoked(claims(undefined, T0, 'jti-before'))).toBe(true);
    const admin = connect();
    await admin.multi().zadd(SET, T0 + HOUR, encodeMember(sessionEntry('jti-lost'))).incr(SEQUENCE).exec();
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-lost'))).toBe(true), WAIT);
  });

  it('keeps receiving after its subscriber connection is killed (ioredis moves it), and finds what it missed', async () => {
    const set = await reader();
    // Kill every pub/sub connection on every node: ioredis picks a node again and resubscribes.
    await Promise.all(
      cluster.nodes.map(async (node) => {
        const direct = createRedisClient({ url: node.url });
        direct.on('error', () => {});
        clients.push(direct);
        await direct.client('KILL', 'TYPE', 'pubsub');
      }),
    );
    // Published while the subscription may be moving: by message or by the sequence, it arrives.
    await writer.revoke([sessionEntry('jti-during')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-during'))).toBe(true), WAIT);
    await writer.revoke([sessionEntry('jti-after')]);
    await vi.waitFor(() => {
      expect(set.isRevoked(claims(undefined, T0, 'jti-after'))).toBe(true);
      expect(set.isFresh()).toBe(true);
    }, WAIT);
  });

  it('rebuilds after the whole cluster lost its data, and readers reload', async () => {
    const set = await reader();
    await cluster.flushAll();
    await writer.rebuild([tokenEntry('pat-restored')]);
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-restored'))).toBe(true), WAIT);
    expect(await connect().zcard(SET)).toBe(1);
  });
});
