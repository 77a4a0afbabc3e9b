import type { VerifyResult } from '@portcullis/jwt';
import type { Logger } from 'pino';
import type { Clock } from './domain/clock.js';
import type { AuthMetrics } from './http/metrics.js';
import type { ExchangeService } from './domain/exchange.js';
import type { KeyRing } from './domain/keyring.js';
import type { ExchangeLimiter } from './domain/limiter.js';
import type { Revoker } from './domain/revoker.js';
import type { TokenService } from './domain/tokens.js';
import type { UserService } from './domain/users.js';
import type { Store } from './storage/store.js';

/** Everything createApp needs; built by `createAuthServices` (wire.ts) from a store, a revocation writer and config. */
export interface AppDeps {
  store: Store;
  keyRing: KeyRing;
  verify: (token: string) => VerifyResult;
  exchange: ExchangeService;
  tokens: TokenService;
  users: UserService;
  revoker: Revoker;
  limiter: ExchangeLimiter;
  clock: Clock;
  log: Logger;
  metrics: AuthMetrics;
  settings: {
    issuer: string;
    audience: string;
    patPrefix: string;
    /** Exchanges for a PAT expiring within this window carry the expiry-warning header. */
    expiryWarningMs: number;
    /** express's `trust proxy`: which hops may set X-Forwarded-For (the gateway, a load balancer). */
    trustProxy: boolean | string | number;
    /** Whether Redis backs the revocation cache (readiness reports it). */
    redisPing?: () => Promise<void>;
  };
}
