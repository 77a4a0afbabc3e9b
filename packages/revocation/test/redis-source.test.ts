import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  RevocationSet,
  SLOW_PAGE_MS,
  createRedisRevocationSource,
  createRedisRevocationWriter,
  encodeMember,
  revocationKeys,
} from '../src/index.js';
import type { RedisRevocationSource, RevocationWriter } from '../src/index.js';
import { startRedis, type RedisServer } from '../../../test/support/redis.js';
import { HOUR, STALENESS_MS, T0, claims, manualClock, sessionEntry, tokenEntry } from './helpers.js';
import { redisClients } from './redis-clients.js';

const HEARTBEAT_MS = 50;
const { set: SET, sequence: SEQUENCE, channel: CHANNEL } = revocationKeys();

describe('Redis revocation source', () => {
  let server: RedisServer;
  const clients = redisClients(() => server);
  const clock = manualClock();
  let writer: RevocationWriter;
  const sets: RevocationSet[] = [];

  function newSet(options: { startTimeoutMs?: number; heartbeatMs?: number; snapshotPageSize?: number } = {}): RevocationSet {
    const source = createRedisRevocationSource({
      ...clients.pair(),
      now: clock.now,
      heartbeatMs: HEARTBEAT_MS,
      ...options,
    });
    const set = new RevocationSet({ source, stalenessMs: STALENESS_MS, now: clock.now });
    sets.push(set);
    return set;
  }

  async function started(options: { heartbeatMs?: number } = {}): Promise<RevocationSet> {
    const set = newSet(options);
    await set.start();
    return set;
  }

  beforeAll(async () => {
    server = await startRedis();
    writer = createRedisRevocationWriter(clients.connect(), { now: clock.now });
  });
  afterEach(async () => {
    await Promise.all(sets.splice(0).map((set) => set.stop()));
    await server.start().catch(() => {}); // a test that stopped Redis and failed midway
    await server.flushAll();
    clock.set(T0);
  });
  afterAll(async () => {
    clients.closeAll();
    await server.close();
  });

  it('goes stale when Redis stops, then reconnects, resyncs and is fresh again when it is back', async () => {
    const readers = [await started(), await started(), await started()];
    await writer.revoke([tokenEntry('pat-before')]);
    await vi.waitFor(() => readers.forEach((set) => expect(set.isRevoked(claims('pat-before'))).toBe(true)));

    await server.stop();
    // Every ping sent from now on fails, and contact is dated when a ping was sent: no reader can look
    // fresh once the clock has moved past the staleness bound.
    clock.advance(STALENESS_MS + 1);
    for (const set of readers) {
      expect(set.isFresh()).toBe(false);
      expect(set.isRevoked(claims('pat-before'))).toBe(true); // memory outlives the outage
    }

    await server.start();
    // Revoked while the readers may still be reconnecting: each learns it by message or by its reload.
    await writer.revoke([sessionEntry('jti-after-restart')]);
    await vi.waitFor(() => {
      for (const set of readers) {
        expect(set.isFresh()).toBe(true);
        expect(set.isRevoked(claims(undefined, T0, 'jti-after-restart'))).toBe(true);
      }
    });
  });

  it('stays fresh through quiet times by the heartbeat alone', async () => {
    const set = await started();
    clock.advance(STALENESS_MS + 1);
    expect(set.isFresh()).toBe(false);
    // No message and no reload happens here: only the heartbeat's read of the sequence brings contact up to date.
    await vi.waitFor(() => expect(set.isFresh()).toBe(true));
    expect(set.lastContactAt).toBe(T0 + STALENESS_MS + 1);
  });

  it('reloads the snapshot on reconnect, catching revocations it was never sent', async () => {
    const set = await started();
    const admin = clients.connect();
    // In Redis but never published (as if published while this reader was away): only a reload finds it.
    await admin.zadd(SET, T0 + HOUR, encodeMember(tokenEntry('pat-missed')));
    expect(set.isRevoked(claims('pat-missed'))).toBe(false);
    await admin.client('KILL', 'TYPE', 'pubsub');
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-missed'))).toBe(true));
    expect(set.isFresh()).toBe(true);
    expect(set.reloads.get('reconnect')).toBeGreaterThanOrEqual(1);
  });

  it('reloads when its command connection comes back, and counts that as a reconnect', async () => {
    const set = await started({ heartbeatMs: HOUR });
    const loads = set.snapshots;
    const admin = clients.connect();
    await admin.zadd(SET, T0 + HOUR, encodeMember(tokenEntry('pat-while-away')));
    // Every ordinary connection, this one included; the subscriber (pubsub) stays up.
    await admin.client('KILL', 'TYPE', 'normal');
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-while-away'))).toBe(true));
    expect(set.snapshots).toBe(loads + 1);
    expect([...set.reloads]).toEqual([['reconnect', 1]]);
  });

  it('finds a change it was never sent by the sequence at the next heartbeats, and reloads', async () => {
    const set = await started();
    await writer.revoke([sessionEntry('jti-seen')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-seen'))).toBe(true));
    // Stored and counted like a revoke whose message was lost: no connection dropped, nothing was published.
    const admin = clients.connect();
    await admin.multi().zadd(SET, T0 + HOUR, encodeMember(sessionEntry('jti-lost'))).incr(SEQUENCE).exec();
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-lost'))).toBe(true));
    expect(set.isFresh()).toBe(true);
  });

  describe('when a heartbeat finds the counter ahead', () => {
    /** A reader whose heartbeat only runs when the test calls it. */
    async function drivenReader(): Promise<{ set: RevocationSet; source: RedisRevocationSource }> {
      const source = createRedisRevocationSource({ ...clients.pair(), now: clock.now, heartbeatMs: HOUR });
      const set = new RevocationSet({ source, stalenessMs: STALENESS_MS, now: clock.now });
      sets.push(set);
      await set.start();
      return { set, source };
    }

    /** Two revocations stored and counted, their messages not yet delivered: what a slow reader sees. */
    async function twoInFlight(): Promise<void> {
      const admin = clients.connect();
      await admin
        .multi()
        .zadd(SET, T0 + HOUR, encodeMember(tokenEntry('pat-1')), T0 + HOUR, encodeMember(tokenEntry('pat-2')))
        .incrby(SEQUENCE, 2)
        .exec();
    }

    function deliver(seq: number, id: string): Promise<number> {
      return clients.connect().publish(CHANNEL, JSON.stringify({ v: 1, seq, type: 'entries', entries: [tokenEntry(id)] }));
    }

    it('waits while the announced messages keep arriving in order, without reloading', async () => {
      const { set, source } = await drivenReader();
      const loads = set.snapshots;
      await twoInFlight();
      await source.heartbeat(); // reads 2 while 0 are applied: two messages are on their way
      await deliver(1, 'pat-1');
      await vi.waitFor(() => expect(set.isRevoked(claims('pat-1'))).toBe(true));
      // Still one short a heartbeat later, but the reader moved: slow, not lossy.
      await source.heartbeat();
      expect(set.isRevoked(claims('pat-2'))).toBe(false);
      await deliver(2, 'pat-2');
      await vi.waitFor(() => expect(set.isRevoked(claims('pat-2'))).toBe(true));
      await source.heartbeat();
      expect(set.snapshots).toBe(loads); // no reload
      expect([...set.reloads]).toEqual([]);
      expect(set.isFresh()).toBe(true);
    });

    it('reloads when a heartbeat period passes without one of them', async () => {
      const { set, source } = await drivenReader();
      const loads = set.snapshots;
      await twoInFlight();
      await source.heartbeat();
      await deliver(1, 'pat-1');
      await vi.waitFor(() => expect(set.isRevoked(claims('pat-1'))).toBe(true));
      await source.heartbeat(); // moved since the last read: one more period
      expect(set.snapshots).toBe(loads);
      // The last message never comes: no progress over a whole period is a loss.
      await source.heartbeat();
      await vi.waitFor(() => expect(set.isRevoked(claims('pat-2'))).toBe(true));
      expect(set.snapshots).toBe(loads + 1);
      expect([...set.reloads]).toEqual([['messages_missing', 1]]);
    });
  });

  it('reloads at once when a message skips a sequence, without waiting for a heartbeat', async () => {
    const set = await started({ heartbeatMs: HOUR }); // no heartbeat runs during this test
    const admin = clients.connect();
    await admin.multi().zadd(SET, T0 + HOUR, encodeMember(tokenEntry('pat-lost'))).incr(SEQUENCE).exec();
    await writer.revoke([sessionEntry('jti-next')]); // published as sequence 2; this reader applied 0
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-lost'))).toBe(true));
    expect(set.isRevoked(claims(undefined, T0, 'jti-next'))).toBe(true);
    expect([...set.reloads]).toEqual([['sequence_gap', 1]]);
  });

  it('reloads when the sequence falls behind what it applied (FLUSHALL or a Redis restart)', async () => {
    const set = await started();
    await writer.revoke([sessionEntry('jti-1')]);
    await writer.revoke([sessionEntry('jti-2')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-2'))).toBe(true));
    await server.flushAll();
    // What a rebuild restores, before its resync message: the sequence now reads 0, behind the 2 applied.
    await clients.connect().zadd(SET, T0 + HOUR, encodeMember(tokenEntry('pat-restored')));
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-restored'))).toBe(true));
    expect(set.isRevoked(claims(undefined, T0, 'jti-1'))).toBe(true); // memory never forgets
    expect(set.reloads.get('redis_reset')).toBe(1);
  });

  it('reloads the snapshot on a resync message', async () => {
    const set = await started();
    const loads = set.snapshots;
    // In the record but not in Redis (a revoke whose Redis write failed): the rebuild restores it, and only
    // the reload its resync message asks for brings it to the reader.
    await writer.rebuild([sessionEntry('jti-silent')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-silent'))).toBe(true));
    // One more load: the one the resync message asked for.
    expect(set.snapshots).toBe(loads + 1);
    expect([...set.reloads]).toEqual([['rebuild', 1]]);
  });

  it('loads a set larger than a page a page at a time, without the entries that already ended', async () => {
    const admin = clients.connect();
    const ids = Array.from({ length: 500 }, (_, i) => `jti-${i}`);
    // 500 members: past Redis's small-set encoding, so ZSCAN really pages.
    await admin.zadd(SET, ...ids.flatMap((id) => [T0 + HOUR, encodeMember(sessionEntry(id))]), T0 - 1, encodeMember(sessionEntry('jti-ended', T0 - 1)));
    const parts: { ids: string[]; last: boolean }[] = [];
    const source = createRedisRevocationSource({ ...clients.pair(), now: clock.now, heartbeatMs: HOUR, snapshotPageSize: 50 });
    try {
      await source.start({
        onSnapshot: (entries, last) => parts.push({ ids: entries.map((e) => e.id), last }),
        onEntries: () => {},
        onContact: () => {},
      });
    } finally {
      await source.close();
    }
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.map((p) => p.last)).toEqual([...Array.from({ length: parts.length - 1 }, () => false), true]);
    // ZSCAN may return a member twice; what counts is that every live one arrived, and only those.
    expect(new Set(parts.flatMap((p) => p.ids))).toEqual(new Set(ids));
  });

  it('asks for larger pages while the replies are slow (a busy event loop), and still loads every entry', async () => {
    const admin = clients.connect();
    const ids = Array.from({ length: 5_000 }, (_, i) => `jti-${i}`);
    await admin.zadd(SET, ...ids.flatMap((id) => [T0 + HOUR, encodeMember(sessionEntry(id))]));
    /**
     * Page sizes of one load, with a clock that moves `msPerRead` at every reading: the source reads it just
     * before asking for a page and again at the reply, so each reply seems to take that long.
     */
    const load = async (msPerRead: number): Promise<number[]> => {
      let current = T0;
      const now = () => (current += msPerRead);
      const pages: number[] = [];
      const seen = new Set<string>();
      const source = createRedisRevocationSource({ ...clients.pair(), now, heartbeatMs: HOUR, snapshotPageSize: 50 });
      try {
        await source.start({
          onSnapshot: (entries) => {
            pages.push(entries.length);
            for (const e of entries) seen.add(e.id);
          },
          onEntries: () => {},
          onContact: () => {},
        });
      } finally {
        await source.close();
      }
      expect(seen).toEqual(new Set(ids));
      return pages;
    };
    const fast = await load(0);
    const slow = await load(SLOW_PAGE_MS);
    // Pages of about 50 throughout when the replies come at once; doubling (50, 100, ... 3,200) when slow.
    expect(Math.max(...fast)).toBeLessThan(200);
    expect(fast.length).toBeGreaterThan(50);
    expect(slow.length).toBeLessThan(12);
    expect(Math.max(...slow)).toBeGreaterThan(1_000);
  });

  it('counts a paged load as one snapshot', async () => {
    const admin = clients.connect();
    await admin.zadd(SET, ...Array.from({ length: 300 }, (_, i) => [T0 + HOUR, encodeMember(tokenEntry(`pat-${i}`))]).flat());
    const set = newSet({ snapshotPageSize: 20 });
    await set.start();
    expect(set.size).toBe(300);
    expect(set.snapshots).toBe(1);
    await writer.rebuild([tokenEntry('pat-restored')]);
    await vi.waitFor(() => expect(set.snapshots).toBe(2));
    expect(set.size).toBe(301);
  });

  it('does not reload for a rebuild that changed nothing (the periodic one, with Redis intact)', async () => {
    const set = await started({ heartbeatMs: HOUR });
    const loads = set.snapshots;
    const entries = [tokenEntry('pat-kept'), sessionEntry('jti-kept')];
    await writer.revoke(entries);
    await writer.rebuild(entries);
    // Messages arrive in order: once this one is applied, a resync sent before it would have been seen.
    await writer.revoke([sessionEntry('jti-after')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-after'))).toBe(true));
    expect(set.snapshots).toBe(loads);
    expect([...set.reloads]).toEqual([]);
  });

  it('applies published revocations without reloading the snapshot', async () => {
    const set = await started();
    const loads = set.snapshots;
    expect(loads).toBeGreaterThanOrEqual(1);
    await writer.revoke([tokenEntry('pat-published'), sessionEntry('jti-published')]);
    await vi.waitFor(() => expect(set.isRevoked(claims('pat-published'))).toBe(true));
    expect(set.isRevoked(claims(undefined, T0, 'jti-published'))).toBe(true);
    expect(set.snapshots).toBe(loads);
    expect([...set.reloads]).toEqual([]);
  });

  it('ignores malformed messages and set members, and keeps working', async () => {
    const command = clients.connect();
    await command.zadd(
      SET,
      ...['garbage', 't:no-timestamp', 't::123', 's:', 's:has space', 'x:other', 't:pat:12abc']
        .concat(encodeMember(tokenEntry('pat:with:colons')), encodeMember(sessionEntry('jti-good')))
        .flatMap((member) => [T0 + HOUR, member]),
    );
    const set = await started();
    expect(set.size).toBe(2);
    expect(set.isRevoked(claims('pat:with:colons'))).toBe(true);
    expect(set.isRevoked(claims(undefined, T0, 'jti-good'))).toBe(true);

    for (const raw of [
      'not json',
      'null',
      '[]',
      '{"v":2,"type":"entries","entries":[]}',
      '{"v":1,"type":"unknown"}',
      '{"v":1,"type":"entries","entries":"nope"}',
      JSON.stringify({
        v: 1,
        type: 'entries',
        entries: [{ kind: 'token', id: 'bad', revokedAt: 'x', until: 1 }, sessionEntry('jti-in-mixed')],
      }),
    ]) {
      await command.publish(CHANNEL, raw);
    }
    await writer.revoke([sessionEntry('jti-last')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-last'))).toBe(true));
    expect(set.isRevoked(claims(undefined, T0, 'jti-in-mixed'))).toBe(true);
    expect(set.isRevoked(claims('bad', T0 - 1))).toBe(false);
    expect(set.size).toBe(4);
    expect(set.isFresh()).toBe(true);
  });

  it('rejects start() after startTimeoutMs while Redis is down, and keeps trying until it is back', async () => {
    await server.stop();
    const set = newSet({ startTimeoutMs: 200 });
    await expect(set.start()).rejects.toThrow(/not loaded from Redis within 200 ms/);
    expect(set.isFresh()).toBe(false);

    await server.start();
    await writer.revoke([tokenEntry('pat-1')]);
    await vi.waitFor(() => {
      expect(set.isFresh()).toBe(true);
      expect(set.isRevoked(claims('pat-1'))).toBe(true);
    });
  });

  it('unsubscribes on stop but leaves the clients it was given open', async () => {
    const pair = clients.pair();
    const set = new RevocationSet({
      source: createRedisRevocationSource({ ...pair, now: clock.now, heartbeatMs: HEARTBEAT_MS }),
      stalenessMs: STALENESS_MS,
      now: clock.now,
    });
    await set.start();
    await set.stop();
    expect(pair.subscriber.status).toBe('ready');
    expect(await pair.command.ping()).toBe('PONG');
    expect(await pair.command.pubsub('NUMSUB', CHANNEL)).toEqual([CHANNEL, 0]);
  });

  it('uses the configured key prefix for the set and the channel', async () => {
    const command = clients.connect();
    const custom = createRedisRevocationWriter(command, { keyPrefix: 'tenant-a', now: clock.now });
    const source = createRedisRevocationSource({ ...clients.pair(), keyPrefix: 'tenant-a', now: clock.now });
    const set = new RevocationSet({ source, stalenessMs: STALENESS_MS, now: clock.now });
    sets.push(set);
    await set.start();
    const other = await started();

    await custom.revoke([sessionEntry('jti-a')]);
    await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-a'))).toBe(true));
    expect(await command.zrange('{tenant-a}:revoked', 0, -1)).toEqual(['s:jti-a']);
    expect(other.isRevoked(claims(undefined, T0, 'jti-a'))).toBe(false);
  });
});
