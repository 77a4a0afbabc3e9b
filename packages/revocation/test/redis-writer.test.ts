import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { REVOCATION_WRITE_CHUNK, createRedisRevocationWriter, revocationKeys } from '../src/index.js';
import type { RevocationWriter } from '../src/index.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { HOUR, T0, manualClock, sessionEntry, tokenEntry } from './helpers.js';
import { redisClients } from './redis-clients.js';

const { set: SET, sequence: SEQUENCE, channel: CHANNEL } = revocationKeys();

describe('Redis revocation writer', () => {
  let server: RedisServer;
  const clients = redisClients(() => server);
  const clock = manualClock();
  let writer: RevocationWriter;
  const published: string[] = [];

  beforeAll(async () => {
    server = await startRedis();
    writer = createRedisRevocationWriter(clients.connect(), { now: clock.now });
    const listener = clients.connect();
    listener.on('message', (_channel: string, message: string) => published.push(message));
    await listener.subscribe(CHANNEL);
  });
  afterEach(async () => {
    await server.start().catch(() => {}); // a test that stopped Redis and failed midway
    await server.flushAll();
    published.length = 0;
    clock.set(T0);
  });
  afterAll(async () => {
    clients.closeAll();
    await server.close();
  });

  it('stores members scored by until and publishes the entries, in one transaction', async () => {
    await writer.revoke([tokenEntry('pat-1', T0 - 5), sessionEntry('jti-1', T0 + 2 * HOUR)]);
    const members = await clients.connect().zrange(SET, 0, -1, 'WITHSCORES');
    expect(members).toEqual([`t:pat-1:${T0 - 5}`, String(T0 + HOUR), 's:jti-1', String(T0 + 2 * HOUR)]);
    await vi.waitFor(() => expect(published).toHaveLength(1));
    expect(JSON.parse(published[0]!)).toEqual({
      seq: 1,
      v: 1,
      type: 'entries',
      entries: [tokenEntry('pat-1', T0 - 5), sessionEntry('jti-1', T0 + 2 * HOUR)],
    });
  });

  it('never shortens an entry already stored', async () => {
    await writer.revoke([sessionEntry('jti-1', T0 + 2 * HOUR)]);
    await writer.rebuild([sessionEntry('jti-1', T0 + HOUR)]);
    expect(await clients.connect().zscore(SET, 's:jti-1')).toBe(String(T0 + 2 * HOUR));
  });

  it('rebuilds a large record in chunks, then publishes a single resync', async () => {
    const count = 2 * REVOCATION_WRITE_CHUNK + 500;
    const entries = Array.from({ length: count }, (_, i) => sessionEntry(`jti-${i}`));
    await writer.rebuild(entries);
    expect(await clients.connect().zcard(SET)).toBe(count);
    await vi.waitFor(() => expect(published).toEqual(['{"seq":1,"v":1,"type":"resync"}']));
  });

  it('announces a rebuild only when it changed the set: a member restored or an `until` lengthened', async () => {
    await writer.revoke([sessionEntry('jti-1', T0 + HOUR)]);
    await writer.rebuild([sessionEntry('jti-1', T0 + HOUR)]); // already there: nothing to tell
    await writer.rebuild([sessionEntry('jti-1', T0 + 2 * HOUR)]); // lengthened: readers must not prune it early
    await writer.rebuild([sessionEntry('jti-1', T0 + HOUR)]); // shorter: GT keeps the longer, nothing changes
    await vi.waitFor(() => expect(published).toHaveLength(2));
    expect(published[1]).toBe('{"seq":2,"v":1,"type":"resync"}');
    expect(await clients.connect().get(SEQUENCE)).toBe('2');
  });

  it('sends a resync another writer owed: one that changed the set but stopped before announcing it', async () => {
    const admin = clients.connect();
    // What a rebuild leaves when its process dies between its last chunk and its end.
    await admin.zadd(SET, T0 + HOUR, 's:jti-restored');
    await admin.set(revocationKeys().resyncOwed, '1');
    await writer.rebuild([sessionEntry('jti-restored')]);
    await vi.waitFor(() => expect(published).toEqual(['{"seq":1,"v":1,"type":"resync"}']));
    expect(await admin.exists(revocationKeys().resyncOwed)).toBe(0);
  });

  it('numbers every published change from one counter, so readers can find a lost one', async () => {
    await writer.revoke([sessionEntry('jti-1')]);
    await writer.rebuild([sessionEntry('jti-2')]);
    await writer.revoke(Array.from({ length: REVOCATION_WRITE_CHUNK + 1 }, (_, i) => sessionEntry(`jti-bulk-${i}`)));
    await vi.waitFor(() => expect(published).toHaveLength(4));
    expect(published.map((raw) => (JSON.parse(raw) as { seq: number }).seq)).toEqual([1, 2, 3, 4]);
    expect(await clients.connect().get(SEQUENCE)).toBe('4');
  });

  it('publishes a large revoke in chunks, each with its own entries', async () => {
    const count = REVOCATION_WRITE_CHUNK + 1;
    await writer.revoke(Array.from({ length: count }, (_, i) => sessionEntry(`jti-${i}`)));
    await vi.waitFor(() => expect(published).toHaveLength(2));
    const sizes = published.map((raw) => (JSON.parse(raw) as { entries: unknown[] }).entries.length);
    expect(sizes).toEqual([REVOCATION_WRITE_CHUNK, 1]);
  });

  it('prunes expired entries on every write, rebuild included', async () => {
    await writer.revoke([sessionEntry('jti-short', T0 + 1000), sessionEntry('jti-long')]);
    clock.advance(1001);
    await writer.rebuild([]);
    expect(await clients.connect().zrange(SET, 0, -1)).toEqual(['s:jti-long']);
  });

  it('rejects when Redis is unreachable, so auth knows the shared set missed the write', async () => {
    await server.stop();
    await expect(writer.revoke([sessionEntry('jti-1')])).rejects.toThrow();
    await expect(writer.rebuild([sessionEntry('jti-1')])).rejects.toThrow();
  });
});
