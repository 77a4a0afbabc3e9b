import type { Redis } from 'ioredis';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_START_TIMEOUT_MS } from './defaults.js';
import { revocationKeys } from './keys.js';
import { decodeMember } from './member.js';
import { parseMessage } from './message.js';
import type { RevocationEntry, RevocationHandlers, RevocationSource } from './types.js';

export interface RedisRevocationSourceOptions {
  /** Dedicated to this source: it enters subscriber mode, where ioredis refuses ZRANGEBYSCORE. */
  subscriber: Redis;
  /** Loads snapshots; may be shared with other work. */
  command: Redis;
  /** Inside the hash tag of the key and channel names; default `portcullis`. */
  keyPrefix?: string;
  /** How often the subscriber connection is pinged to prove contact. */
  heartbeatMs?: number;
  /** How long `start()` waits for the first snapshot before rejecting (the source keeps trying). */
  startTimeoutMs?: number;
  /** Epoch ms; contact times and the snapshot's lower bound. Default `Date.now`. */
  now?: () => number;
  /** Failed loads and pings, for logging; they are retried on the next heartbeat or reconnect. */
  onError?: (error: unknown) => void;
}

/**
 * A gateway's view of the Redis set: subscribe first, then load, so nothing published in between is missed
 * (entries are idempotent, so seeing one twice is harmless).
 *
 * Contact is reported only while the source is in sync: subscribed and loaded since the subscriber last
 * connected. The heartbeat pings the *subscriber*: a reply there proves every message published before it
 * has been delivered, which is what freshness means (a live command connection proves nothing about pub/sub).
 *
 * `start()` resolves after the first snapshot, or rejects after `startTimeoutMs`; either way the source keeps
 * retrying until `close()`, so a gateway can start while Redis is down and serve (failing closed) until it
 * is back. `close()` unsubscribes but does not quit the clients: their owner does.
 */
export function createRedisRevocationSource(options: RedisRevocationSourceOptions): RevocationSource {
  const { subscriber, command } = options;
  const { set, channel } = revocationKeys(options.keyPrefix);
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const onError = options.onError ?? (() => {});

  let handlers: RevocationHandlers | undefined;
  let closed = false;
  let inSync = false;
  // Bumped on every subscriber disconnect: work begun before it must not vouch for the state after it.
  let connection = 0;
  let syncing = false;
  let syncAgain = false;
  let pinging = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let firstSync: { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | undefined;

  async function syncOnce(h: RevocationHandlers): Promise<void> {
    const startedOn = connection;
    // Our own SUBSCRIBE even after ioredis's auto-resubscribe: awaiting its reply guarantees the server
    // routes messages to us before the snapshot is read on the other connection.
    await subscriber.subscribe(channel);
    const loadedAt = now();
    const entries = await loadSnapshot(loadedAt);
    if (closed || startedOn !== connection) return; // the next 'ready' starts over
    h.onSnapshot(entries);
    // A request that arrived during the load (a resync) may need writes this read predates: the loop runs
    // again, and only that pass vouches for being in sync.
    if (syncAgain) return;
    inSync = true;
    h.onContact(loadedAt);
    if (firstSync) {
      clearTimeout(firstSync.timer);
      firstSync.resolve();
      firstSync = undefined;
    }
  }

  async function loadSnapshot(fromMs: number): Promise<RevocationEntry[]> {
    const flat = await command.zrangebyscore(set, fromMs, '+inf', 'WITHSCORES');
    const entries: RevocationEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const entry = decodeMember(flat[i]!, flat[i + 1]!);
      if (entry) entries.push(entry);
    }
    return entries;
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

  function tick(): void {
    if (!inSync) {
      // Retries a load that failed while both connections stayed up (no 'ready' will come to trigger it).
      if (!syncing) requestSync();
      return;
    }
    if (pinging) return; // a hung ping must not pile up more behind it
    pinging = true;
    const sentAt = now();
    const sentOn = connection;
    subscriber.ping().then(
      () => {
        pinging = false;
        // The reply proves contact as of when it was sent, not when it arrived.
        if (!closed && inSync && sentOn === connection) handlers?.onContact(sentAt);
      },
      (error: unknown) => {
        pinging = false;
        onError(error);
      },
    );
  }

  function onMessage(from: string, raw: string): void {
    if (from !== channel || closed || !handlers) return;
    const message = parseMessage(raw);
    if (!message) return;
    if (message.type === 'entries') {
      handlers.onEntries(message.entries);
      if (inSync) handlers.onContact(now());
      return;
    }
    // A rebuild may have restored entries we were never sent (a revoke whose Redis write failed): no
    // contact is reported until they are loaded, and the heartbeat retries the load if it fails.
    inSync = false;
    requestSync();
  }

  function onSubscriberClose(): void {
    // Messages published while disconnected are lost: out of sync until resubscribed and reloaded.
    inSync = false;
    connection += 1;
  }

  return {
    start(h) {
      if (handlers) return Promise.reject(new Error('revocation source already started'));
      if (closed) return Promise.reject(new Error('revocation source is closed'));
      handlers = h;
      subscriber.on('message', onMessage);
      subscriber.on('close', onSubscriberClose);
      subscriber.on('ready', requestSync);
      command.on('ready', requestSync);
      heartbeat = setInterval(tick, heartbeatMs).unref();
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
      subscriber.off('close', onSubscriberClose);
      subscriber.off('ready', requestSync);
      command.off('ready', requestSync);
      if (firstSync) {
        clearTimeout(firstSync.timer);
        firstSync.reject(new Error('revocation source closed before the first snapshot'));
        firstSync = undefined;
      }
      if (!handlers) return;
      // Awaited only when connected: queued behind a reconnect, it could hold close() for as long as Redis is
      // down. Queued, it still runs after ioredis's auto-resubscribe, so the channel ends up unsubscribed.
      const unsubscribed = subscriber.unsubscribe(channel).catch(onError);
      if (subscriber.status === 'ready') await unsubscribed;
    },
  };
}
