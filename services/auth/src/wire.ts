import { createVerifier } from '@portcullis/jwt';
import type { RevocationWriter } from '@portcullis/revocation';
import type { Logger } from 'pino';
import type { AuthConfig } from './config.js';
import type { AppDeps } from './deps.js';
import { type Clock, systemClock } from './domain/clock.js';
import { ExchangeService } from './domain/exchange.js';
import { loadKeyRing } from './domain/keyring.js';
import { type ExchangeLimiter, createExchangeLimiter } from './domain/limiter.js';
import { type Hasher, createHasher } from './domain/passwords.js';
import { Revoker } from './domain/revoker.js';
import { createSessionMinter } from './domain/sessions.js';
import { TokenService } from './domain/tokens.js';
import { UsageRecorder } from './domain/usage.js';
import { UserService } from './domain/users.js';
import { VerifiedPatCache } from './domain/verified-cache.js';
import { type AuthMetrics, createAuthMetrics } from './http/metrics.js';
import type { Store } from './storage/store.js';

export interface AuthServices extends AppDeps {
  usage: UsageRecorder;
  hasher: Hasher;
}

/**
 * Builds the auth service's domain from its infrastructure. main.ts and tests both call this, so tests
 * exercise the same wiring as production (with an in-memory PGlite or a test database, and a real writer).
 */
export async function createAuthServices(options: {
  config: AuthConfig;
  store: Store;
  writer: RevocationWriter;
  log: Logger;
  clock?: Clock;
  hasher?: Hasher;
  limiter?: ExchangeLimiter;
  redisPing?: () => Promise<void>;
  metrics?: AuthMetrics;
}): Promise<AuthServices> {
  const { config, store, writer, log } = options;
  const clock = options.clock ?? systemClock;
  const hasher = options.hasher ?? createHasher(config.BCRYPT_COST);
  const keyRing = await loadKeyRing(store, () => new Date(clock()));
  const minter = createSessionMinter({ keyRing, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE, ttlMs: config.SESSION_TTL, clock });
  const metrics = options.metrics ?? createAuthMetrics();
  const revoker = new Revoker(store, writer, () => minter.latestExpiry(), clock, log, (event) => {
    if (event === 'published' || event === 'publish_failed') metrics.revocations.inc({ result: event === 'published' ? 'ok' : 'failed' });
    else metrics.rebuilds.inc({ result: event === 'rebuilt' ? 'ok' : 'failed' });
  });
  const usage = new UsageRecorder(store, log);
  const limiter =
    options.limiter ??
    createExchangeLimiter({
      ipFailures: config.RATE_LIMIT_IP_FAILURES,
      tokenFailures: config.RATE_LIMIT_TOKEN_FAILURES,
      windowSec: Math.ceil(config.RATE_LIMIT_WINDOW / 1000),
      blockSec: Math.ceil(config.RATE_LIMIT_WINDOW / 1000),
    });

  const exchange = new ExchangeService({
    store,
    hasher,
    minter,
    cache: new VerifiedPatCache(config.PAT_CACHE_SIZE, config.PAT_CACHE_TTL, clock),
    usage,
    limiter,
    clock,
    patPrefix: config.PAT_PREFIX,
    audience: config.JWT_AUDIENCE,
    onDenied: async (denied, request) => {
      if (!denied.tokenId) return;
      try {
        await store.insertAudit({ organizationId: denied.organizationId ?? null, actorId: null, action: 'exchange.denied', targetType: 'token', targetId: denied.tokenId, ip: request.ip, detail: { reason: denied.reason, ...(request.app ? { app: request.app } : {}) } });
      } catch (error) {
        // The client's answer does not depend on the audit write; losing one is logged, not fatal.
        log.warn({ err: error }, 'could not write audit event');
      }
    },
  });

  const tokens = new TokenService({
    store,
    hasher,
    revoker,
    clock,
    patPrefix: config.PAT_PREFIX,
    audit: (tx, actor, action, token, detail) =>
      tx.insertAudit({ organizationId: actor.organizationId, actorId: actor.actorId, action, targetType: 'token', targetId: token.id, ip: actor.ip, ...(detail ? { detail } : {}) }),
    auditRaw: (tx, event) => tx.insertAudit(event),
  });

  const users = new UserService({
    store,
    hasher,
    revoker,
    clock,
    audit: (tx, actor, action, target, detail) =>
      tx.insertAudit({ organizationId: actor.organizationId, actorId: actor.actorId, action, targetType: target.type, targetId: target.id, ip: actor.ip, ...(detail ? { detail } : {}) }),
  });

  const verify = createVerifier({
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    keyFor: (kid) => keyRing.keyFor(kid),
    now: () => Math.floor(clock() / 1000),
  });

  return {
    store,
    keyRing,
    verify,
    exchange,
    tokens,
    users,
    revoker,
    limiter,
    clock,
    log,
    metrics,
    usage,
    hasher,
    settings: {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      patPrefix: config.PAT_PREFIX,
      expiryWarningMs: config.EXPIRY_WARNING,
      trustProxy: trustProxySetting(config.TRUST_PROXY),
      ...(options.redisPing ? { redisPing: options.redisPing } : {}),
    },
  };
}

function trustProxySetting(value: string): boolean | string | number {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
