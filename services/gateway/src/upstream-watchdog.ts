import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * Upstream requests in flight, checked for silence on one shared timer instead of a socket timer each.
 *
 * A socket timeout per proxied request (`proxyReq.setTimeout`) costs two timers and four listeners per
 * request: armed for the request, re-armed by the agent when the socket goes back to the pool, and the
 * listeners added and removed around them. Here a request costs linking and unlinking one entry. Every
 * sweep, a request whose socket moved no byte for its route's timeout is destroyed with UpstreamTimeout
 * (the gateway answers 504).
 *
 * Silence is the socket's bytes read and written not moving, so a slow upload or download that keeps going
 * is never cut, as with a socket timeout; unlike one, it also covers a connection that never completes.
 * The socket is first read at the sweep after `watch` (reading `bytesWritten` copies the socket's write
 * queue: too dear for every request), so a timeout fires between `timeoutMs` and `timeoutMs` plus two
 * sweep intervals after the request started.
 */

/** Marks the error the gateway raises itself when an upstream stays silent past the route's timeout. */
export class UpstreamTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

/** Sweep interval bounds: a tenth of the shortest route timeout, within these. */
export const MIN_SWEEP_MS = 10;
export const MAX_SWEEP_MS = 1_000;

interface Watched {
  /** The request to the upstream. */
  readonly upstream: ClientRequest;
  prev: Watched | undefined;
  next: Watched | undefined;
  /** Still in the list: the sweep may drop an entry before http-proxy's `end` reports it done. */
  linked: boolean;
  readonly timeoutMs: number;
  /** The socket's bytes read plus written at the last sweep that saw them move; -1 before the first. */
  bytes: number;
  /** When `bytes` last moved, by `now()`. */
  activeAt: number;
}

export interface UpstreamWatchdogOptions {
  /** The shortest timeout of any route: sets the sweep interval. */
  shortestTimeoutMs: number;
  /** Milliseconds, monotonic; default performance.now. Tests pass a clock and call `sweep()`. */
  now?: () => number;
  /** False in tests that drive `sweep()` themselves. */
  timer?: boolean;
}

const WATCHED = Symbol('upstream watchdog entry');
type WatchedClient = IncomingMessage & { [WATCHED]?: Watched | undefined };

export class UpstreamWatchdog {
  /** A doubly linked list: insertion and removal touch two neighbours, nothing is hashed or resized. */
  private head: Watched | undefined;
  private tail: Watched | undefined;
  private count = 0;
  private readonly now: () => number;
  readonly intervalMs: number;
  private readonly useTimer: boolean;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: UpstreamWatchdogOptions) {
    this.now = options.now ?? (() => performance.now());
    this.intervalMs = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(options.shortestTimeoutMs / 10)));
    this.useTimer = options.timer ?? true;
  }

  get size(): number {
    return this.count;
  }

  /** Starts watching `upstream`, the request made for `client`, once it has its socket (`proxyReq`). */
  watch(client: IncomingMessage, upstream: ClientRequest, timeoutMs: number): void {
    const entry: Watched = { upstream, timeoutMs, bytes: -1, activeAt: 0, prev: this.tail, next: undefined, linked: true };
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.count += 1;
    (client as WatchedClient)[WATCHED] = entry;
    // The timer runs only while something is in flight, and never keeps the process alive.
    if (this.useTimer && this.timer === undefined) this.timer = setInterval(() => this.sweep(), this.intervalMs).unref();
  }

  /** The upstream's answer to `client` is complete (http-proxy's `end` event): nothing left to time out. */
  done(client: IncomingMessage): void {
    const entry = (client as WatchedClient)[WATCHED];
    if (entry === undefined) return;
    (client as WatchedClient)[WATCHED] = undefined;
    this.unlink(entry);
  }

  private unlink(entry: Watched): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    this.count -= 1;
  }

  /** One pass: forgets failed requests, times out silent ones. */
  sweep(): void {
    const now = this.now();
    for (let entry = this.head; entry !== undefined; ) {
      const next = entry.next;
      const request = entry.upstream;
      if (request.destroyed) {
        // Failed or aborted (http-proxy answered the client), or completed without an `end` event.
        this.unlink(entry);
        entry = next;
        continue;
      }
      const socket = request.socket;
      const bytes = socket ? socket.bytesRead + socket.bytesWritten : 0;
      if (bytes !== entry.bytes) {
        entry.bytes = bytes;
        entry.activeAt = now;
      } else if (now - entry.activeAt >= entry.timeoutMs) {
        this.unlink(entry);
        request.destroy(new UpstreamTimeout('upstream did not answer in time'));
      }
      entry = next;
    }
    if (this.count === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
