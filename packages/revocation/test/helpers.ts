import { RevocationSet } from '../src/index.js';
import type { RevocationEntry, RevocationSource } from '../src/index.js';

/** 2027-01-15T08:00:00Z: a whole second, so `iat` arithmetic in tests is exact. */
export const T0 = 1_800_000_000_000;
export const HOUR = 3_600_000;

/** A clock tests move by hand; nothing in these tests waits for wall time to pass. */
export interface Clock {
  now: () => number;
  advance(ms: number): void;
  set(ms: number): void;
}

export function manualClock(start = T0): Clock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}

export function tokenEntry(id: string, revokedAt = T0, until = T0 + HOUR): RevocationEntry {
  return { kind: 'token', id, revokedAt, until };
}

export function sessionEntry(id: string, until = T0 + HOUR, revokedAt = T0): RevocationEntry {
  return { kind: 'session', id, revokedAt, until };
}

/** Claims of a session minted from PAT `tid` at `issuedAtMs` (iat is in whole seconds, as in a JWT). */
export function claims(tid: string | undefined, issuedAtMs = T0 - 60_000, jti = 'jti-unrelated') {
  return { tid, jti, iat: Math.floor(issuedAtMs / 1000) };
}

export const STALENESS_MS = 10_000;

export async function startedSet(source: RevocationSource, clock: Clock): Promise<RevocationSet> {
  const set = new RevocationSet({ source, stalenessMs: STALENESS_MS, now: clock.now });
  await set.start();
  return set;
}
