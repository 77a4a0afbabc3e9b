import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryRevocationBus, RevocationSet } from '../src/index.js';
import type { RevocationEntry, RevocationHandlers, RevocationSource } from '../src/index.js';
import { HOUR, STALENESS_MS, T0, claims, manualClock, sessionEntry, startedSet, tokenEntry } from './helpers.js';

/** A source the test drives by hand: nothing arrives unless the test sends it. */
function manualSource(): { source: RevocationSource; send: RevocationHandlers } {
  let handlers: RevocationHandlers | undefined;
  const send: RevocationHandlers = {
    onSnapshot: (entries, last) => handlers?.onSnapshot(entries, last),
    onEntries: (entries) => handlers?.onEntries(entries),
    onContact: (atMs) => handlers?.onContact(atMs),
  };
  const source: RevocationSource = {
    start: async (h) => {
      handlers = h;
      h.onSnapshot([], true);
      h.onContact(T0);
      return Promise.resolve();
    },
    close: async () => {
      handlers = undefined;
      return Promise.resolve();
    },
  };
  return { source, send };
}

describe('RevocationSet', () => {
  const clock = manualClock();
  const sets: RevocationSet[] = [];
  async function withBus(bus = new MemoryRevocationBus({ now: clock.now })) {
    const set = await startedSet(bus.source(), clock);
    sets.push(set);
    return { bus, set };
  }
  async function withManualSource() {
    const { source, send } = manualSource();
    const set = await startedSet(source, clock);
    sets.push(set);
    return { send, set };
  }
  afterEach(async () => {
    await Promise.all(sets.splice(0).map((set) => set.stop()));
    clock.set(T0);
  });

  describe('isRevoked', () => {
    it('revokes sessions a PAT minted up to its revocation, and lets later ones through', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([tokenEntry('pat-1', T0 + 500)]);
      expect(set.isRevoked(claims('pat-1', T0 - HOUR / 2))).toBe(true);
      expect(set.isRevoked(claims('pat-1', T0))).toBe(true);
      // Same second as the revocation, minted just after it: iat cannot tell, so it counts as revoked.
      expect(set.isRevoked(claims('pat-1', T0 + 800))).toBe(true);
      // Minted after the PAT was re-enabled.
      expect(set.isRevoked(claims('pat-1', T0 + 1000))).toBe(false);
      expect(set.isRevoked(claims('pat-2', T0))).toBe(false);
    });

    it('keeps the latest revocation of a PAT, whatever order revocations arrive in', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([tokenEntry('pat-1', T0 + 60_000)]);
      await bus.revoke([tokenEntry('pat-1', T0)]);
      expect(set.tokenRevokedAt('pat-1')).toBe(T0 + 60_000);
      expect(set.isRevoked(claims('pat-1', T0 + 30_000))).toBe(true);
      expect(set.size).toBe(1);
    });

    it('revokes one session by jti, with or without a PAT behind it', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([sessionEntry('jti-1')]);
      expect(set.isRevoked(claims(undefined, T0, 'jti-1'))).toBe(true);
      expect(set.isRevoked(claims('pat-1', T0, 'jti-1'))).toBe(true);
      expect(set.isRevoked(claims('pat-1', T0, 'jti-2'))).toBe(false);
    });

    it('revokes every session of a subject (a user demoted or deleted), whatever PAT they came from', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([tokenEntry('user-1', T0)]);
      expect(set.isRevoked({ sub: 'user-1', tid: 'pat-9', jti: 'j1', iat: (T0 - 1000) / 1000 })).toBe(true);
      expect(set.isRevoked({ sub: 'user-1', jti: 'j2', iat: (T0 - 1000) / 1000 })).toBe(true);
      expect(set.isRevoked({ sub: 'user-1', jti: 'j3', iat: (T0 + 1000) / 1000 })).toBe(false);
      expect(set.isRevoked({ sub: 'user-2', tid: 'pat-9', jti: 'j4', iat: (T0 - 1000) / 1000 })).toBe(false);
    });

    it('revokes the sessions one PAT issued to one application, and only those', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([tokenEntry('pat-1/ci-bot', T0)]);
      const iat = (T0 - 1000) / 1000;
      expect(set.isRevoked({ tid: 'pat-1', app: 'ci-bot', jti: 'j1', iat })).toBe(true);
      expect(set.isRevoked({ tid: 'pat-1', app: 'other', jti: 'j2', iat })).toBe(false);
      expect(set.isRevoked({ tid: 'pat-1', jti: 'j3', iat })).toBe(false);
    });

    it('does not confuse a PAT id with a jti', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([tokenEntry('same-id'), sessionEntry('other-id')]);
      expect(set.isRevoked(claims(undefined, T0 - 1000, 'same-id'))).toBe(false);
      expect(set.isRevoked(claims('other-id', T0 - 1000, 'x'))).toBe(false);
      expect(set.tokenRevokedAt('other-id')).toBeUndefined();
    });
  });

  describe('expiry', () => {
    it('forgets an entry once its until has passed, on prune()', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([sessionEntry('jti-1', T0 + 1000), tokenEntry('pat-1', T0, T0 + 2000)]);
      clock.advance(1000);
      set.prune();
      expect(set.size).toBe(2); // `until` itself still counts
      clock.advance(1);
      set.prune();
      expect(set.size).toBe(1);
      clock.advance(1000);
      set.prune();
      expect(set.size).toBe(0);
    });

    it('forgets an expired entry lazily when a lookup finds it', async () => {
      const { bus, set } = await withBus();
      await bus.revoke([sessionEntry('jti-1', T0 + 1000), tokenEntry('pat-1', T0, T0 + 1000)]);
      clock.advance(1001);
      expect(set.isRevoked(claims('pat-1', T0 - 1000, 'jti-1'))).toBe(false);
      expect(set.tokenRevokedAt('pat-1')).toBeUndefined();
      expect(set.size).toBe(0);
    });

    it('ignores entries that have already expired when they arrive', async () => {
      const { send, set } = await withManualSource();
      send.onEntries([sessionEntry('jti-old', T0 - 1)]);
      send.onSnapshot([tokenEntry('pat-old', T0 - HOUR, T0 - 1)], true);
      expect(set.size).toBe(0);
    });
  });

  describe('snapshots', () => {
    it('add to what the set holds: entries received while a snapshot loaded are kept', async () => {
      const { send, set } = await withManualSource();
      send.onEntries([sessionEntry('jti-during-load')]);
      send.onSnapshot([tokenEntry('pat-in-snapshot')], true);
      expect(set.isRevoked(claims(undefined, T0, 'jti-during-load'))).toBe(true);
      expect(set.isRevoked(claims('pat-in-snapshot'))).toBe(true);
    });

    it('apply part by part, and count as one load when the last part arrives', async () => {
      const { send, set } = await withManualSource();
      const loads = set.snapshots;
      send.onSnapshot([tokenEntry('pat-first-part')], false);
      expect(set.isRevoked(claims('pat-first-part'))).toBe(true);
      expect(set.snapshots).toBe(loads);
      send.onSnapshot([sessionEntry('jti-last-part')], true);
      expect(set.isRevoked(claims(undefined, T0, 'jti-last-part'))).toBe(true);
      expect(set.snapshots).toBe(loads + 1);
    });

    it('are what a reader starting late learns from', async () => {
      const bus = new MemoryRevocationBus({ now: clock.now });
      await bus.revoke([tokenEntry('pat-1')]);
      const { set } = await withBus(bus);
      expect(set.isRevoked(claims('pat-1'))).toBe(true);
    });
  });

  describe('freshness', () => {
    it('is fresh within stalenessMs of the last contact, and stale after', async () => {
      const { send, set } = await withManualSource();
      expect(set.lastContactAt).toBe(T0);
      clock.advance(STALENESS_MS);
      expect(set.isFresh()).toBe(true);
      clock.advance(1);
      expect(set.isFresh()).toBe(false);
      send.onContact(clock.now());
      expect(set.isFresh()).toBe(true);
    });

    it('never moves the last contact back (a late ping reply dated when it was sent)', async () => {
      const { send, set } = await withManualSource();
      send.onContact(T0 + 5000);
      send.onContact(T0 + 1000);
      expect(set.lastContactAt).toBe(T0 + 5000);
    });

    it('is not fresh before the source has been heard from', () => {
      const set = new RevocationSet({ source: manualSource().source, stalenessMs: STALENESS_MS, now: clock.now });
      expect(set.isFresh()).toBe(false);
      expect(set.lastContactAt).toBeUndefined();
    });

    it('stays fresh on the in-process bus, which heartbeats like Redis', async () => {
      const bus = new MemoryRevocationBus({ now: clock.now, heartbeatMs: 5 });
      const { set } = await withBus(bus);
      clock.advance(STALENESS_MS + 1);
      await vi.waitFor(() => expect(set.isFresh()).toBe(true));
    });
  });

  describe('subscribe', () => {
    it('tells listeners about entries that change the set, once', async () => {
      const { bus, set } = await withBus();
      const seen: RevocationEntry[][] = [];
      const unsubscribe = set.subscribe((entries) => seen.push([...entries]));

      await bus.revoke([tokenEntry('pat-1', T0), sessionEntry('jti-1')]);
      await bus.revoke([tokenEntry('pat-1', T0), sessionEntry('jti-1')]); // nothing new
      await bus.revoke([tokenEntry('pat-1', T0 - 1000)]); // older than what is held
      await bus.revoke([tokenEntry('pat-1', T0 + 1000)]); // a later revocation
      unsubscribe();
      await bus.revoke([tokenEntry('pat-2')]);

      expect(seen).toEqual([[tokenEntry('pat-1', T0), sessionEntry('jti-1')], [tokenEntry('pat-1', T0 + 1000)]]);
    });
  });

  it('stops listening to its source on stop()', async () => {
    const { bus, set } = await withBus();
    await set.stop();
    await bus.revoke([tokenEntry('pat-1')]);
    expect(set.isRevoked(claims('pat-1'))).toBe(false);
  });
});
