import { RateLimiterMemory, type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * Failed exchanges per client IP and per token id. bcrypt is expensive: once a key (an IP or a token)
 * has failed too often, further attempts answer 429 before any bcrypt runs.
 */
export interface ExchangeLimiter {
  /** Seconds to wait, or 0 when the caller may try. */
  retryAfter(kind: 'ip' | 'token', key: string): Promise<number>;
  recordFailure(kind: 'ip' | 'token', key: string): Promise<void>;
}

export interface LimiterSettings {
  ipFailures: number;
  tokenFailures: number;
  windowSec: number;
  blockSec: number;
}

export const DEFAULT_LIMITS: LimiterSettings = { ipFailures: 30, tokenFailures: 10, windowSec: 300, blockSec: 300 };

/** `make` builds one limiter (memory by default; main.ts passes a Redis-backed one when Redis is configured). */
export function createExchangeLimiter(
  settings: LimiterSettings = DEFAULT_LIMITS,
  make: (opts: { keyPrefix: string; points: number; duration: number; blockDuration: number }) => RateLimiterAbstract = (o) => new RateLimiterMemory(o),
): ExchangeLimiter {
  const limiters = {
    ip: make({ keyPrefix: 'pcl:fail:ip', points: settings.ipFailures, duration: settings.windowSec, blockDuration: settings.blockSec }),
    token: make({ keyPrefix: 'pcl:fail:tok', points: settings.tokenFailures, duration: settings.windowSec, blockDuration: settings.blockSec }),
  };
  return {
    async retryAfter(kind, key) {
      const state = await limiters[kind].get(key);
      // `points` failures are all a key gets: the next attempt is refused, before it can run bcrypt.
      if (!state || state.consumedPoints < limiters[kind].points) return 0;
      return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    },
    async recordFailure(kind, key) {
      try {
        await limiters[kind].consume(key);
      } catch (error) {
        // Over the limit is the expected outcome here, not a failure; anything else is.
        if (!(error instanceof RateLimiterRes)) throw error;
      }
    },
  };
}
