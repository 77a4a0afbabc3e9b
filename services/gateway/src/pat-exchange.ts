import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { BoundedCache } from './bounded-cache.js';
import { type AuthFailure, FAILURE } from './failures.js';

/** The exchange call may take this long before the request answers 503. */
export const EXCHANGE_TIMEOUT_MS = 5_000;
export const TOKEN_ENDPOINT_PATH = '/auth/v1/token';

export interface PatExchangeOptions {
  authUrl: string;
  fetch: typeof globalThis.fetch;
  /** Epoch milliseconds. */
  now: () => number;
  /** Re-exchange this long before the session token expires, so no request carries an expiring token. */
  refreshMarginMs: number;
  maxEntries: number;
  logger: Logger;
}

export interface ExchangeContext {
  requestId: string;
  clientIp: string | undefined;
}

interface CachedSession {
  token: string;
  refreshAtMs: number;
}

/**
 * Exchanges a PAT sent straight to the gateway for a session token at the auth service, once, and keeps the
 * session token until shortly before it expires. The cache is keyed by an HMAC of the PAT under a key that
 * lives only in this process: the PAT itself is never stored, and a heap dump yields nothing to replay.
 * Concurrent requests with the same PAT share one exchange.
 */
export class PatExchanger {
  private readonly hmacKey = randomBytes(32);
  private readonly sessions: BoundedCache<string, CachedSession>;
  private readonly inFlight = new Map<string, Promise<string | AuthFailure>>();
  /** Exchanges sent to the auth service; tests read it to prove the cache works. */
  exchangeCount = 0;

  constructor(private readonly options: PatExchangeOptions) {
    this.sessions = new BoundedCache(options.maxEntries);
  }

  keyOf(pat: string): string {
    return createHmac('sha256', this.hmacKey).update(pat).digest('base64url');
  }

  /** The session token for `pat`: synchronously from the cache, else a promise of the exchange. */
  sessionFor(pat: string, context: ExchangeContext): string | Promise<string | AuthFailure> {
    const key = this.keyOf(pat);
    const cached = this.sessions.get(key);
    if (cached !== undefined) {
      if (this.options.now() < cached.refreshAtMs) return cached.token;
      this.sessions.delete(key);
    }
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.exchange(key, pat, context).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  /** Drops the session held for `pat` (its session was revoked or failed verification). */
  forget(pat: string): void {
    this.sessions.delete(this.keyOf(pat));
  }

  private async exchange(key: string, pat: string, context: ExchangeContext): Promise<string | AuthFailure> {
    this.exchangeCount += 1;
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'x-request-id': context.requestId,
    };
    if (context.clientIp !== undefined) headers['x-forwarded-for'] = context.clientIp;
    let response: Response;
    let body: unknown;
    try {
      response = await this.options.fetch(`${this.options.authUrl}${TOKEN_ENDPOINT_PATH}`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ pat }).toString(),
        signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS),
      });
      body = await response.json().catch(() => undefined);
    } catch (error) {
      this.options.logger.warn({ err: error, requestId: context.requestId }, 'PAT exchange failed');
      return FAILURE.authUnavailable;
    }

    if (response.status === 200) {
      const { access_token: token, expires_in: expiresIn } = (body ?? {}) as Record<string, unknown>;
      if (typeof token !== 'string' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
        this.options.logger.error({ requestId: context.requestId }, 'PAT exchange answered without a token');
        return FAILURE.authUnavailable;
      }
      const lifetimeMs = expiresIn * 1000;
      const margin = Math.min(this.options.refreshMarginMs, lifetimeMs / 2);
      this.sessions.set(key, { token, refreshAtMs: this.options.now() + lifetimeMs - margin });
      return token;
    }
    return failureFor(response, body);
  }
}

/** Maps the token endpoint's RFC 6749 answer to the gateway's RFC 6750 one. */
function failureFor(response: Response, body: unknown): AuthFailure {
  switch (response.status) {
    case 400:
    case 401:
      return FAILURE.invalidPat;
    case 403:
      return FAILURE.patDenied;
    case 429: {
      const retryAfter = Number(response.headers.get('retry-after'));
      const error = (body as { error_description?: unknown } | undefined)?.error_description;
      return {
        code: 'rate_limited',
        message: typeof error === 'string' ? error : 'Too many token exchanges; retry later',
        retryAfterSec: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 1,
      };
    }
    default:
      return FAILURE.authUnavailable;
  }
}
