import type { KeyObject } from 'node:crypto';
import { parseJwks } from '@portcullis/jwt';
import type { Logger } from 'pino';

/** A fetch answer slower than this counts as a failed fetch; the keys already held stay in use. */
export const JWKS_FETCH_TIMEOUT_MS = 5_000;
/** Until a first key set is loaded (auth not up yet), the timer retries this often instead. */
export const JWKS_RETRY_INTERVAL_MS = 1_000;

export interface JwksCacheOptions {
  url: string;
  fetch: typeof globalThis.fetch;
  /** Epoch milliseconds; injected so tests control the refetch rate limit. */
  now: () => number;
  /** At most one fetch per this interval on behalf of unknown `kid`s, however many arrive. */
  minRefetchIntervalMs: number;
  logger: Logger;
  /** Hears every fetch's outcome (metrics). */
  onFetched?: (ok: boolean) => void;
}

/**
 * The auth service's public keys, parsed once into KeyObjects. `keyFor` is the synchronous lookup the
 * verifier calls on every uncached token; the network is touched only at start, on a timer, and when a
 * token names a `kid` we do not hold (key rotation), rate-limited so a flood of made-up `kid`s costs the
 * auth service one request per interval.
 */
export class JwksCache {
  private keys = new Map<string, KeyObject>();
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private everLoaded = false;
  private readonly removalListeners: (() => void)[] = [];
  /** How many fetches were started; tests read it to prove the rate limit. */
  fetchCount = 0;

  constructor(private readonly options: JwksCacheOptions) {}

  readonly keyFor = (kid: string): KeyObject | undefined => this.keys.get(kid);

  /** Calls `listener` when a refresh drops a key, so verified-token caches forget tokens signed with it. */
  onKeysRemoved(listener: () => void): void {
    this.removalListeners.push(listener);
  }

  /** True once a key set has been loaded: readiness, and "unknown kid" means a bad token, not a cold cache. */
  get loaded(): boolean {
    return this.everLoaded;
  }

  get size(): number {
    return this.keys.size;
  }

  /** Fetches now unless a fetch is already running; resolves true when the key set was replaced. */
  refresh(): Promise<boolean> {
    this.inFlight ??= this.fetchKeys().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /**
   * For a token whose `kid` is unknown: joins a running fetch, starts one if the last started long enough
   * ago, or answers false at once (rate-limited). Resolves true when the key set changed.
   */
  refreshForUnknownKid(): Promise<boolean> | false {
    if (this.inFlight) return this.inFlight;
    if (this.options.now() - this.lastFetchAt < this.options.minRefetchIntervalMs) return false;
    return this.refresh();
  }

  /** Refreshes every `intervalMs` so retired keys disappear; every second while nothing is loaded yet. */
  startTimer(intervalMs: number): void {
    this.stopTimer();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.refresh().finally(() => {
          if (this.timer !== undefined) tick();
        });
      }, this.everLoaded ? intervalMs : JWKS_RETRY_INTERVAL_MS);
      this.timer.unref();
    };
    tick();
  }

  stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async fetchKeys(): Promise<boolean> {
    this.lastFetchAt = this.options.now();
    this.fetchCount += 1;
    let fresh: Map<string, KeyObject>;
    try {
      const response = await this.options.fetch(this.options.url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`JWKS answered ${response.status}`);
      }
      fresh = parseJwks(await response.json());
      if (fresh.size === 0) throw new Error('JWKS holds no usable key');
    } catch (error) {
      // Keep the keys we have: a blip at the auth service must not invalidate live tokens.
      this.options.logger.warn({ err: error, url: this.options.url }, 'JWKS fetch failed');
      this.options.onFetched?.(false);
      return false;
    }
    this.options.onFetched?.(true);
    const removed = [...this.keys.keys()].some((kid) => !fresh.has(kid));
    const changed = removed || fresh.size !== this.keys.size;
    this.keys = fresh;
    if (!this.everLoaded) this.options.logger.info({ kids: [...fresh.keys()] }, 'JWKS loaded');
    this.everLoaded = true;
    if (removed) for (const listener of this.removalListeners) listener();
    return changed;
  }
}
