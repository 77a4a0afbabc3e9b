import { parsePat } from '@portcullis/token';
import type { Store } from '../storage/store.js';
import type { Clock } from './clock.js';
import type { ExchangeLimiter } from './limiter.js';
import type { Hasher } from './passwords.js';
import { ALL, effectivePermissions, roleAllows } from './permissions.js';
import { type Failure, type Result, fail, ok } from './result.js';
import type { MintedSession, SessionMinter } from './sessions.js';
import type { ApiToken, TokenCredential } from './types.js';
import type { UsageRecorder } from './usage.js';
import type { VerifiedPatCache } from './verified-cache.js';

export interface ExchangeRequest {
  /** Space-separated subset of the token's permissions (RFC 8693 down-scoping). */
  scope?: string;
  audience?: string;
  app?: string;
  ip: string | null;
}

export interface ExchangeSuccess {
  session: MintedSession;
  scope: string;
  /** The PAT's expiry, for the expiry-warning header; absent for password logins. */
  tokenExpiresAt?: Date | null;
  tokenId?: string;
}

export interface DeniedExchange {
  /** Why, for the audit log and rate limiter only: clients all get the same answer. */
  reason: 'malformed' | 'unknown' | 'secret' | 'disabled' | 'retired' | 'expired' | 'owner' | 'application_pending' | 'application_denied' | 'scope' | 'audience';
  tokenId?: string;
  organizationId?: string;
}

export interface ExchangeDeps {
  store: Store;
  hasher: Hasher;
  minter: SessionMinter;
  cache: VerifiedPatCache;
  usage: UsageRecorder;
  limiter: ExchangeLimiter;
  clock: Clock;
  patPrefix: string;
  audience: string;
  /** Awaited before the answer, so a denial is in the audit log by the time the client hears of it. */
  onDenied?: (denied: DeniedExchange, request: ExchangeRequest) => Promise<void>;
}

const INVALID = 'The token is invalid, expired or revoked';
export const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/;

/** PAT → session token (and email/password → session token). */
export class ExchangeService {
  constructor(private readonly deps: ExchangeDeps) {}

  private async deny(reason: DeniedExchange['reason'], request: ExchangeRequest, token?: ApiToken): Promise<{ ok: false; error: Failure }> {
    await this.deps.onDenied?.(token ? { reason, tokenId: token.id, organizationId: token.organizationId } : { reason }, request);
    switch (reason) {
      case 'application_pending':
        return fail('authorization_pending', `Application "${request.app}" is waiting for an administrator to allow it for this token`);
      case 'application_denied':
        return fail('access_denied', `Application "${request.app}" is denied for this token; an administrator must allow it`);
      case 'scope':
        return fail('invalid_scope', 'The requested scope exceeds what the token may do');
      case 'audience':
        return fail('invalid_target', 'Unknown audience');
      default:
        return fail('invalid_grant', INVALID);
    }
  }

  private requestedScope(granted: string[], requested: string | undefined, role: Parameters<typeof roleAllows>[0]): string[] | null {
    if (requested === undefined || requested.trim() === '') return granted;
    const wanted = [...new Set(requested.trim().split(/\s+/))];
    const holdsAll = granted.includes(ALL);
    const allowed = wanted.every((p) => (p === ALL ? holdsAll : (holdsAll || granted.includes(p)) && roleAllows(role, p)));
    return allowed ? wanted : null;
  }

  /** Checks a presented PAT: format, record, secret (bcrypt unless recently verified) and state. */
  async verifyPat(key: string, request: ExchangeRequest): Promise<Result<TokenCredential>> {
    const parsed = parsePat(key, this.deps.patPrefix);
    if (!parsed.ok) return this.deny('malformed', request);
    const now = this.deps.clock();
    const credential = await this.deps.store.findCredential(parsed.pat.lookupId, new Date(now));
    if (!credential) return this.deny('unknown', request);
    const { token, secretHash } = credential;

    if (!this.deps.cache.matches(key, secretHash)) {
      const wait = await this.deps.limiter.retryAfter('token', token.id);
      if (wait > 0) return { ok: false, error: { code: 'rate_limited', message: 'Too many failed attempts for this token; try again later', retryAfter: wait } };
      if (!(await this.deps.hasher.compare(parsed.pat.secret, secretHash))) {
        await this.deps.limiter.recordFailure('token', token.id);
        return this.deny('secret', request, token);
      }
      this.deps.cache.remember(key, secretHash);
    }
    const state = this.tokenState(token, now);
    if (state) return this.deny(state, request, token);
    return ok(credential);
  }

  async exchangePat(key: string, request: ExchangeRequest): Promise<Result<ExchangeSuccess>> {
    if (request.audience !== undefined && request.audience !== this.deps.audience) return this.deny('audience', request);
    const verified = await this.verifyPat(key, request);
    if (!verified.ok) return verified;
    const { token, ownerRole } = verified.value;
    const now = this.deps.clock();

    if (request.app !== undefined) {
      const app = await this.deps.store.recordApplication(token.id, request.app, token.defaultAppState);
      if (app.state === 'pending') return this.deny('application_pending', request, token);
      if (app.state === 'deny') return this.deny('application_denied', request, token);
    }

    const granted = effectivePermissions(token.permissions, ownerRole);
    const scope = this.requestedScope(granted, request.scope, ownerRole);
    if (!scope) return this.deny('scope', request, token);

    const session = this.deps.minter.mint({
      sub: token.ownerId ?? token.id,
      org: token.organizationId,
      tid: token.id,
      scope,
      role: ownerRole,
      ...(request.app !== undefined ? { app: request.app } : {}),
      notAfter: token.expiresAt,
    });
    this.deps.usage.record(token.id, new Date(now), request.ip);
    return ok({ session, scope: scope.join(' '), tokenExpiresAt: token.expiresAt, tokenId: token.id });
  }

  private tokenState(token: ApiToken, now: number): DeniedExchange['reason'] | null {
    if (token.revokedAt) return 'retired';
    if (!token.enabled) return 'disabled';
    if (token.expiresAt && token.expiresAt.getTime() <= now) return 'expired';
    return null;
  }

  async login(email: string, password: string, request: ExchangeRequest): Promise<Result<ExchangeSuccess>> {
    if (request.audience !== undefined && request.audience !== this.deps.audience) return this.deny('audience', request);
    const found = await this.deps.store.findLogin(email);
    if (!found) {
      await this.deps.hasher.compareDummy(password);
      return this.deny('unknown', request);
    }
    if (!(await this.deps.hasher.compare(password, found.passwordHash))) return this.deny('secret', request);
    const scope = this.requestedScope([ALL], request.scope, found.user.role);
    if (!scope) return this.deny('scope', request);
    const session = this.deps.minter.mint({ sub: found.user.id, org: found.user.organizationId, scope, role: found.user.role });
    return ok({ session, scope: scope.join(' ') });
  }
}
