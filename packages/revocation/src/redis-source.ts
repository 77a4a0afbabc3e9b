import { DEFAULT_HEARTBEAT_MS, DEFAULT_START_TIMEOUT_MS } from './defaults.js';
import { revocationKeys } from './keys.js';
import { decodeMember } from './member.js';
import { parseMessage } from './message.js';
import type { RedisClient } from './redis-writer.js';
import type { ReloadReason, RevocationEntry, RevocationHandlers, RevocationSource } from './types.js';

export interface RedisRevocationSourceOptions {
  /** Dedicated to this source: it enters subscriber mode, where a single-node client refuses other commands. */
  subscriber: RedisClient;
  /** Loads the set and reads the sequence; may be shared with other work. */
  command: RedisClient;
  /** Inside the hash tag of the key and channel names; default `portcullis`. */
  keyPrefix?: string;
  /** How often the sequence is read to prove contact and to find lost messages. */
  heartbeatMs?: number;
  /** How long `start()` waits for the first snapshot before rejecting (the source keeps trying). */
  startTimeoutMs?: number;
  /**
   * Members asked for by a load's first read of the set (ZSCAN's COUNT, a hint); default SNAPSHOT_PAGE_SIZE.
   * A read slower than SLOW_PAGE_MS doubles it for the next, up to MAX_SNAPSHOT_PAGE_SIZE.
   */
  snapshotPageSize?: number;
  /** Epoch ms; contact times and the snapshot's lower bound. Default `Date.now`. */
  now?: () => number;
  /** Failed loads and heartbeats, for logging; they are retried on the next heartbeat or reconnect. */
  onError?: (error: unknown) => void;
}

/**
 * A gateway's view of the Redis set: subscribe first, then load the set and the sequence together, so
 * nothing published in between is missed (entries are idempotent, so seeing one twice is harmless).
 *
 * Every published change carries the next value of one counter, so the source knows which changes it has
 * applied without gaps (`applied`). It never trusts a connection to have delivered everything:
 * - a message whose sequence skips one means a message was lost: reload at once;
 * - the heartbeat reads the counter. At or below `applied`, the source was current when the read was sent:
 *   that is contact. Above it, messages are on their way; if none of them has arrived by the next heartbeat,
 *   they were lost: reload. Below what was applied, Redis lost its data (FLUSHALL, restart): reload.
 *   Messages still arriving in order by then mean a slow reader (a busy event loop during a burst), not a
 *   loss: a lost one among them would skip a sequence. Reloading 100,000 entries for that would only make
 *   the reader slower, so it waits another heartbeat, as long as it keeps moving.
 * This holds for one node, through Sentinel, and on a Cluster, where ioredis moves its subscription between
 * nodes by itself (every message leaves from the node owning the keys, in order, so the reasoning holds).
 *
 * `start()` resolves after the first snapshot, or rejects after `startTimeoutMs`; either way the source keeps
 * retrying until `close()`, so a gateway can start while Redis is down and serve (failing closed) until it
 * is back. `close()` unsubscribes but does not quit the clients: their owner does.
 */
export interface RedisRevocationSource extends RevocationSource {
  /**
   * Runs one heartbeat now, as the timer does every `heartbeatMs`; settles once its read of the counter has
   * been handled (at once when the source is out of sync: it then only asks for a reload, as the timer does).
   * For tests that drive the heartbeat themselves (with a `heartbeatMs` longer than the test).
   */
  heartbeat(): Promise<void>;
}

/**
 * Members per page when a source loads the set. Measured on a gateway holding 100,000 entries: one reply
 * for the whole set added 56 MB of RSS per reload. With pages of 100 the first two reloads added 10–18 MB
 * each and later ones about 1 MB; pages of 1,000 went on adding 11 MB per reload until a full collection. A
 * page costs one round trip: 100,000 entries load in about 0.3 s on an idle gateway.
 */
export const SNAPSHOT_PAGE_SIZE = 100;

/**
 * A page whose round trip took this long (milliseconds, by `now`) makes the next page twice as large, up
 * to MAX_SNAPSHOT_PAGE_SIZE. Under load, each reply waits for the event loop to get round to it: with 32
 * connections sending new tokens to verify, pages of 100 took 6.4–6.8 s over 100,000 entries, past the
 * default staleness bound of 5 s, and from then until the load was done the gateway answered 503 to every
 * request (docs/benchmarks.md, "A seventh look"). With the growth, 0.7–0.8 s. An idle round trip on one
 * host is well under this, so an idle load keeps its pages of 100.
 */
export const SLOW_PAGE_MS = 2;
/** Pages of up to 5,000: 100,000 entries in some 25 round trips when every reply is slow. */
export const MAX_SNAPSHOT_PAGE_SIZE = 5_000;

export function createRedisRevocationSource(options: RedisRevocationSourceOptions): RedisRevocationSource {
  const { subscriber, command } = options;
  const pageSize = options.snapshotPageSize ?? SNAPSHOT_PAGE_SIZE;
  const keys = revocationKeys(options.keyPrefix);
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const onError = options.onError ?? (() => {});

  let handlers: RevocationHandlers | undefined;
  let closed = false;
  let inSync = false;
  // Bumped whenever the source falls out of sync: work begun before must not vouch for the state after.
  let epoch = 0;
  // Every change up to this sequence is in the set we hold; `received` holds the ones seen beyond it.
  let applied = 0;
  const received = new Set<number>();
  // A heartbeat's read found the counter ahead, at `seq`, while `applied` was `appliedThen`: by the next
  // heartbeat, `applied` must have reached `seq` or at least moved.
  let awaiting: { seq: number; sentAt: number; appliedThen: number } | undefined;
  let syncing = false;
  let syncAgain = false;
  let loaded = false;
  let checking = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let firstSync: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | undefined;

  async function syncOnce(h: RevocationHandlers): Promise<void> {
    const startedIn = epoch;
    // Sequences from before this load say nothing about it; only what arrives from now on counts.
    received.clear();
    // Our own SUBSCRIBE even after ioredis's auto-resubscribe: awaiting its reply guarantees the server
    // routes messages to us before the snapshot is read on the other connection.
    await subscriber.subscribe(keys.channel);
    const loadedAt = now();
    const sequence = await loadSnapshot(loadedAt, h, startedIn);
    if (sequence === undefined) return; // abandoned: whoever bumped the epoch asked for another pass
    loaded = true;
    applied = sequence;
    advance();
    // A request that arrived during the load (a resync) may need writes this read predates: the loop runs
    // again, and only that pass vouches for being in sync.
    if (syncAgain) return;
    inSync = true;
    awaiting = undefined;
    h.onContact(loadedAt);
    if (firstSync) {
      clearTimeout(firstSync.timer);
      firstSync.resolve();
      firstSync = undefined;
    }
  }

  /**
   * Reads the set a page at a time (ZSCAN) and hands each page to the reader as it arrives, so a load never
   * holds a second copy of the whole set (see SNAPSHOT_PAGE_SIZE), and the event loop serves requests
   * between pages; pages grow while their replies are slow (see SLOW_PAGE_MS). Returns the sequence the load
   * vouches for, or undefined when it was abandoned (closed, or the source fell out of sync again: another
   * pass follows).
   *
   * Consistent without one transaction around the whole read. The counter is read with the first page, and
   * every entry written up to it is in the set by then. ZSCAN returns every member present from the start of
   * the scan to its end, and members leave the set only once expired (the writer's prune). Members added
   * meanwhile may be missed by the scan, but each arrives by message (we subscribed first) or, for a rebuild's,
   * by the reload its resync message asks for. A member returned twice is harmless: entries are a union.
   */
  async function loadSnapshot(fromMs: number, h: RevocationHandlers, startedIn: number): Promise<number | undefined> {
    let count = pageSize;
    let askedAt = now();
    // One transaction on one node (the keys share a slot): the first page and the counter are read together.
    const results = await command.multi().get(keys.sequence).zscan(keys.set, '0', 'COUNT', count).exec();
    let replyMs = now() - askedAt;
    if (!results) throw new Error('revocation snapshot aborted by Redis');
    for (const [error] of results) if (error) throw error;
    const sequence = toSequence(results[0]![1]);
    let [cursor, flat] = results[1]![1] as [string, string[]];
    for (;;) {
      if (closed || startedIn !== epoch) return undefined;
      const last = cursor === '0';
      h.onSnapshot(decodePage(flat, fromMs), last);
      if (last) return sequence;
      // A slow reply means a busy event loop, which makes every page wait: fewer, larger pages.
      if (replyMs >= SLOW_PAGE_MS) count = Math.min(count * 2, Math.max(MAX_SNAPSHOT_PAGE_SIZE, pageSize));
      askedAt = now();
      [cursor, flat] = await command.zscan(keys.set, cursor, 'COUNT', count);
      replyMs = now() - askedAt;
    }
  }

  /** Runs a sync now, or once more after the one in flight (whose read may predate the request). */
  function requestSync(): void {
    if (closed || !handlers) return;
    if (syncing) {
      syncAgain = true;
      return;
    }
    syncing = true;
    const h = handlers;
    void (async () => {
      do {
        syncAgain = false;
        try {
          await syncOnce(h);
        } catch (error) {
          onError(error);
        }
      } while (syncAgain && !closed);
      syncing = false;
    })();
  }

  /** Out of sync until a reload: no contact is reported meanwhile, so the set goes stale if it fails. */
  function resync(reason: ReloadReason): void {
    // Before the first load there is nothing to reload (the subscriber's first 'ready' lands here too).
    if (loaded) handlers?.onReload?.(reason);
    inSync = false;
    epoch += 1;
    awaiting = undefined;
    requestSync();
  }

  /** Moves `applied` over every sequence received in order; reports the contact a heartbeat was waiting for. */
  function advance(): void {
    while (received.delete(applied + 1)) applied += 1;
    for (const seq of received) if (seq <= applied) received.delete(seq);
    if (inSync && awaiting && applied >= awaiting.seq) {
      handlers?.onContact(awaiting.sentAt);
      awaiting = undefined;
    }
  }

  /** One heartbeat; the promise (for tests) settles once its read has been handled. */
  function tick(): Promise<void> {
    if (!inSync) {
      // Retries a load that failed while the connections stayed up (no 'ready' will come to trigger it).
      if (!syncing) requestSync();
      return Promise.resolve();
    }
    if (checking) return Promise.resolve(); // a hung read must not pile up more behind it
    checking = true;
    const sentAt = now();
    const sentIn = epoch;
    return command.get(keys.sequence).then(
      (raw) => {
        checking = false;
        if (closed || !inSync || sentIn !== epoch) return;
        const current = toSequence(raw);
        if (current < applied) return resync('redis_reset'); // auth's rebuild restores its data
        // A whole heartbeat period without one of the messages the last read announced: lost.
        if (awaiting && applied < awaiting.seq && applied === awaiting.appliedThen) return resync('messages_missing');
        if (applied >= current) {
          // The reply proves contact as of when the read was sent, not when it arrived.
          handlers?.onContact(sentAt);
          return;
        }
        awaiting = { seq: current, sentAt, appliedThen: applied };
      },
      (error: unknown) => {
        checking = false;
        onError(error);
      },
    );
  }

  function onSubscriberReady(): void {
    resync('reconnect');
  }

  /** The command connection came back: what it reads may have moved on, so load again (still in sync meanwhile). */
  function onCommandReady(): void {
    if (loaded) handlers?.onReload?.('reconnect');
    requestSync();
  }

  function onMessage(from: string, raw: string): void {
    if (from !== keys.channel || closed || !handlers) return;
    const message = parseMessage(raw);
    if (!message) return;
    if (message.type === 'resync') {
      // A rebuild may have restored entries we were never sent (a revoke whose Redis write failed).
      resync('rebuild');
      return;
    }
    // Entries apply at once, whatever their sequence says: they only ever add revocations.
    handlers.onEntries(message.entries);
    if (message.seq === undefined || message.seq <= applied) return;
    if (inSync && message.seq > applied + 1) {
      // Messages leave one node in order: a skipped sequence was lost on the way (a subscriber reconnect).
      resync('sequence_gap');
      return;
    }
    received.add(message.seq);
    advance();
    if (inSync && applied >= message.seq) handlers.onContact(now());
  }

  return {
    heartbeat: tick,

    start(h) {
      if (handlers) return Promise.reject(new Error('revocation source already started'));
      if (closed) return Promise.reject(new Error('revocation source is closed'));
      handlers = h;
      subscriber.on('message', onMessage);
      // Not needed for correctness (the sequence finds every loss) but a reconnect is the likeliest moment
      // to have missed something: reload at once rather than a heartbeat or two later.
      subscriber.on('ready', onSubscriberReady);
      command.on('ready', onCommandReady);
      heartbeat = setInterval(() => void tick(), heartbeatMs).unref();
      const started = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          firstSync = undefined;
          reject(new Error(`revocation snapshot not loaded from Redis within ${startTimeoutMs} ms; still retrying`));
        }, startTimeoutMs);
        firstSync = { resolve, reject, timer };
      });
      requestSync();
      return started;
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      subscriber.off('message', onMessage);
      subscriber.off('ready', onSubscriberReady);
      command.off('ready', onCommandReady);
      if (firstSync) {
        clearTimeout(firstSync.timer);
        firstSync.reject(new Error('revocation source closed before the first snapshot'));
        firstSync = undefined;
      }
      if (!handlers) return;
      // Awaited only when connected: queued behind a reconnect, it could hold close() for as long as Redis is
      // down. Queued, it still runs after ioredis's auto-resubscribe, so the channel ends up unsubscribed.
      const unsubscribed = subscriber.unsubscribe(keys.channel).catch(onError);
      if (subscriber.status === 'ready') await unsubscribed;
    },
  };
}

/** A ZSCAN page (member, score, member, score...) as entries, without those that ended before `fromMs`. */
function decodePage(flat: readonly string[], fromMs: number): RevocationEntry[] {
  const entries: RevocationEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const entry = decodeMember(flat[i]!, flat[i + 1]!);
    if (entry && entry.until >= fromMs) entries.push(entry);
  }
  return entries;
}

/** The counter as stored: absent (never written, or flushed) is 0. */
function toSequence(raw: unknown): number {
  const value = Number(raw ?? 0);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}
