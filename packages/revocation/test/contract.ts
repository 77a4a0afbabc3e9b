import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RevocationSet, RevocationSource, RevocationWriter } from '../src/index.js';
import { HOUR, T0, claims, manualClock, sessionEntry, startedSet, tokenEntry } from './helpers.js';

/** What the contract needs from a backend: a writer, as many readers as asked for, and a way to wipe it. */
export interface RevocationBackend {
  writer: RevocationWriter;
  /** A new reader with its own connections. */
  source(): RevocationSource;
  /** Loses every shared entry, as a FLUSHALL or a restart does (readers keep what they hold in memory).
   * Absent where the store cannot be lost apart from its readers (the in-process bus). */
  wipe?(): Promise<void>;
  /** An empty store for the next test; no reader is running. */
  reset(): Promise<void>;
  /** How many entries the shared store holds right now. */
  stored(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The protocol every backend must honour, run against the in-process bus and real Redis alike.
 * The clock is shared by writer and readers and only moves when a test moves it.
 */
export function revocationBackendContract(name: string, open: (now: () => number) => Promise<RevocationBackend>): void {
  describe(`revocation protocol on ${name}`, () => {
    const clock = manualClock();
    let backend: RevocationBackend;
    const sets: RevocationSet[] = [];

    async function reader(): Promise<RevocationSet> {
      const set = await startedSet(backend.source(), clock);
      sets.push(set);
      return set;
    }

    beforeAll(async () => {
      backend = await open(clock.now);
    });
    afterEach(async () => {
      await Promise.all(sets.splice(0).map((set) => set.stop()));
      await backend.reset();
      clock.set(T0);
    });
    afterAll(async () => {
      await backend.close();
    });

    it('delivers a revoked PAT to every reader', async () => {
      const readers = [await reader(), await reader(), await reader()];
      await backend.writer.revoke([tokenEntry('pat-1', T0)]);
      for (const set of readers) {
        await vi.waitFor(() => expect(set.isRevoked(claims('pat-1', T0 - 1000))).toBe(true));
        expect(set.isRevoked(claims('pat-1', T0 + 1000))).toBe(false);
        expect(set.tokenRevokedAt('pat-1')).toBe(T0);
        expect(set.isFresh()).toBe(true);
      }
    });

    it('delivers a revoked session to every reader', async () => {
      const readers = [await reader(), await reader(), await reader()];
      await backend.writer.revoke([sessionEntry('jti-1')]);
      for (const set of readers) {
        await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-1'))).toBe(true));
        expect(set.isRevoked(claims(undefined, T0, 'jti-2'))).toBe(false);
      }
    });

    it('gives a reader started after a revocation the entry in its first snapshot', async () => {
      await backend.writer.revoke([tokenEntry('pat-early'), sessionEntry('jti-early')]);
      const late = await reader();
      // No waiting: start() resolves only once the snapshot is applied.
      expect(late.isRevoked(claims('pat-early'))).toBe(true);
      expect(late.isRevoked(claims(undefined, T0, 'jti-early'))).toBe(true);
      expect(late.size).toBe(2);
    });

    it('restores a wiped store on rebuild, without readers ever losing an entry', async () => {
      const before = await reader();
      await backend.writer.revoke([tokenEntry('pat-1')]);
      await vi.waitFor(() => expect(before.isRevoked(claims('pat-1'))).toBe(true));

      await backend.wipe?.();
      expect(before.isRevoked(claims('pat-1'))).toBe(true);
      await backend.writer.rebuild([tokenEntry('pat-1'), sessionEntry('jti-from-record')]);

      await vi.waitFor(() => expect(before.isRevoked(claims(undefined, T0, 'jti-from-record'))).toBe(true));
      expect(before.isRevoked(claims('pat-1'))).toBe(true);
      const after = await reader();
      expect(after.isRevoked(claims('pat-1'))).toBe(true);
      expect(after.isRevoked(claims(undefined, T0, 'jti-from-record'))).toBe(true);
    });

    it('makes readers reload on a rebuild that changed the set, and only then', async () => {
      const set = await reader();
      const entries = [tokenEntry('pat-1'), sessionEntry('jti-1')];
      await backend.writer.revoke(entries);
      await backend.writer.rebuild(entries); // what the periodic rebuild does with nothing lost
      await backend.writer.rebuild([sessionEntry('jti-from-record')]);
      await vi.waitFor(() => expect(set.isRevoked(claims(undefined, T0, 'jti-from-record'))).toBe(true));
      expect(set.snapshots).toBe(2); // the first load, then the one reload the second rebuild asked for
    });

    it('keeps entries other writers added when rebuilding (a union, not a replace)', async () => {
      await backend.writer.revoke([sessionEntry('jti-by-another-replica')]);
      await backend.writer.rebuild([sessionEntry('jti-from-record')]);
      const set = await reader();
      expect(set.isRevoked(claims(undefined, T0, 'jti-by-another-replica'))).toBe(true);
      expect(set.isRevoked(claims(undefined, T0, 'jti-from-record'))).toBe(true);
    });

    it('keeps the latest revocation of a PAT that was re-enabled and revoked again', async () => {
      const set = await reader();
      await backend.writer.revoke([tokenEntry('pat-1', T0)]);
      await backend.writer.revoke([tokenEntry('pat-1', T0 + 60_000)]);
      await vi.waitFor(() => expect(set.tokenRevokedAt('pat-1')).toBe(T0 + 60_000));
      const late = await reader();
      expect(late.tokenRevokedAt('pat-1')).toBe(T0 + 60_000);
      expect(late.isRevoked(claims('pat-1', T0 + 30_000))).toBe(true);
      expect(late.isRevoked(claims('pat-1', T0 + 61_000))).toBe(false);
    });

    it('treats an empty revoke as a no-op', async () => {
      const set = await reader();
      await backend.writer.revoke([]);
      expect(set.size).toBe(0);
    });

    it('refuses malformed entries before writing anything', async () => {
      const bad = [tokenEntry('ok'), { kind: 'token', id: 'has space', revokedAt: T0, until: T0 + HOUR } as const];
      await expect(backend.writer.revoke(bad)).rejects.toThrow(TypeError);
      await expect(backend.writer.rebuild([{ ...sessionEntry('x'), until: Number.NaN }])).rejects.toThrow(TypeError);
      const set = await reader();
      expect(set.size).toBe(0);
    });

    it('forgets expired entries: writes prune the store, the clock prunes readers', async () => {
      const set = await reader();
      await backend.writer.revoke([sessionEntry('jti-short', T0 + 1000), sessionEntry('jti-long', T0 + HOUR)]);
      await vi.waitFor(() => expect(set.size).toBe(2));

      clock.advance(1001);
      set.prune();
      expect(set.size).toBe(1);
      expect(set.isRevoked(claims(undefined, T0, 'jti-short'))).toBe(false);

      expect(await backend.stored()).toBe(2);
      await backend.writer.revoke([sessionEntry('jti-new', T0 + HOUR)]);
      expect(await backend.stored()).toBe(2);
      const late = await reader();
      expect(late.isRevoked(claims(undefined, T0, 'jti-short'))).toBe(false);
      expect(late.size).toBe(2);
    });
  });
}
