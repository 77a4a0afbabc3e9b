import { DEFAULT_HEARTBEAT_MS } from './defaults.js';
import { assertRevocationEntries } from './entry.js';
import { encodeMember } from './member.js';
import type { RevocationEntry, RevocationHandlers, RevocationSource, RevocationWriter } from './types.js';

export interface MemoryRevocationBusOptions {
  /** Epoch ms, for pruning and contact times. Default `Date.now`. */
  now?: () => number;
  /** How often each started source reports contact, as the Redis one does after a ping. */
  heartbeatMs?: number;
}

/**
 * The shared set and channel in one process, for `npm start` without Redis: the bus is auth's writer, and
 * `source()` gives each RevocationSet its reader. Same protocol as Redis (snapshot on start, `onEntries` on
 * revoke, a fresh snapshot on a rebuild that changed something), delivered synchronously, so a revoke has
 * reached every reader by the time it resolves. Nothing can disconnect, so a started source is always in
 * contact.
 */
export class MemoryRevocationBus implements RevocationWriter {
  readonly #now: () => number;
  readonly #heartbeatMs: number;
  /** Keyed like the Redis members, so the same entry twice is one entry. */
  readonly #entries = new Map<string, RevocationEntry>();
  readonly #readers = new Set<RevocationHandlers>();

  constructor(options: MemoryRevocationBusOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  }

  async revoke(entries: readonly RevocationEntry[]): Promise<void> {
    assertRevocationEntries(entries);
    if (entries.length === 0) return;
    const copies = entries.map((entry) => this.#store(entry));
    this.#prune();
    for (const reader of this.#readers) {
      reader.onEntries(copies);
      reader.onContact(this.#now());
    }
    return Promise.resolve();
  }

  async rebuild(entries: readonly RevocationEntry[]): Promise<void> {
    assertRevocationEntries(entries);
    let changed = false;
    for (const entry of entries) {
      const before = this.#entries.get(encodeMember(entry))?.until;
      if (this.#store(entry).until !== before) changed = true;
    }
    this.#prune();
    // As on Redis: readers reload only when the rebuild restored or lengthened something.
    if (changed) for (const reader of this.#readers) this.#sendSnapshot(reader);
    return Promise.resolve();
  }

  /** Nothing to release; sources keep working. */
  async close(): Promise<void> {
    return Promise.resolve();
  }

  /** A new reader; each RevocationSet needs its own. */
  source(): RevocationSource {
    let reader: RevocationHandlers | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    return {
      start: async (handlers) => {
        if (reader) throw new Error('revocation source already started');
        reader = handlers;
        this.#readers.add(reader);
        this.#prune();
        this.#sendSnapshot(reader);
        heartbeat = setInterval(() => handlers.onContact(this.#now()), this.#heartbeatMs).unref();
        return Promise.resolve();
      },
      close: async () => {
        clearInterval(heartbeat);
        if (reader) this.#readers.delete(reader);
        return Promise.resolve();
      },
    };
  }

  /** Entries currently held (what a new reader's snapshot would contain). */
  get size(): number {
    return this.#entries.size;
  }

  #store(entry: RevocationEntry): RevocationEntry {
    const key = encodeMember(entry);
    const { kind, id, revokedAt } = entry;
    // As ZADD GT: an entry's `until` only ever grows.
    const until = Math.max(entry.until, this.#entries.get(key)?.until ?? entry.until);
    const copy: RevocationEntry = { kind, id, revokedAt, until };
    this.#entries.set(key, copy);
    return copy;
  }

  #sendSnapshot(reader: RevocationHandlers): void {
    reader.onSnapshot([...this.#entries.values()], true);
    reader.onContact(this.#now());
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.until < now) this.#entries.delete(key);
  }
}
