import type { TokenCredential } from '../domain/types.js';
import type { Database, Queryable } from './database.js';
import { organizationQueries } from './organizations.js';
import { recordQueries } from './records.js';
import { tokenQueries } from './tokens.js';
import { userQueries } from './users.js';

function queriesOn(db: Queryable) {
  return { ...organizationQueries(db), ...userQueries(db), ...tokenQueries(db), ...recordQueries(db) };
}

export type StoreQueries = ReturnType<typeof queriesOn>;

/** Everything the auth service keeps in PostgreSQL, on one connection or pool, with transactions. */
export interface Store extends StoreQueries {
  transaction<T>(work: (tx: StoreQueries) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  readonly kind: Database['kind'];
}

/** How many credentials a single-writer store remembers between writes. */
export const CREDENTIAL_CACHE_SIZE = 10_000;

export function createStore(db: Database): Store {
  const queries = queriesOn(db);
  return {
    ...queries,
    ...(db.writes ? { findCredential: rememberCredentials((lookupId, now) => queries.findCredential(lookupId, now), db.writes) } : {}),
    transaction: (work) => db.transaction((tx) => work(queriesOn(tx))),
    ping: async () => {
      await db.query('SELECT 1');
    },
    close: () => db.close(),
    kind: db.kind,
  };
}

/**
 * For a store only this process writes (PGlite): a credential read stays valid until the next write of
 * any kind, so a repeated exchange skips the query (each one costs PGlite hundreds of microseconds of
 * WebAssembly) without ever serving a disabled, rotated or deleted token. Only current keys are kept:
 * a previous key's grace period is decided by the query's clock.
 */
function rememberCredentials(
  find: StoreQueries['findCredential'],
  writes: () => number,
): StoreQueries['findCredential'] {
  const cache = new Map<string, TokenCredential>();
  let seen = writes();
  return async (lookupId, now) => {
    if (writes() !== seen) {
      cache.clear();
      seen = writes();
    }
    const hit = cache.get(lookupId);
    if (hit) return hit;
    const before = writes();
    const found = await find(lookupId, now);
    // A write that landed while the query ran may have changed what it read: do not keep it.
    if (found && !found.previous && writes() === before) {
      if (cache.size >= CREDENTIAL_CACHE_SIZE) cache.clear();
      cache.set(lookupId, found);
    }
    return found;
  };
}
