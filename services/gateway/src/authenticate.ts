import { hash } from 'node:crypto';
import type { VerifyFailure, VerifyResult } from '@portcullis/jwt';
import type { RevocableClaims } from '@portcullis/revocation';
import { parsePat } from '@portcullis/token';
import { BoundedCache } from './bounded-cache.js';
import type { Credential } from './credentials.js';
import { type AuthFailure, FAILURE, isFailure } from './failures.js';
import { type Identity, identityFrom } from './identity.js';
import type { JwksCache } from './jwks.js';
import type { ExchangeContext, PatExchanger } from './pat-exchange.js';

/** The part of the revocation set a request needs: memory-only, O(1). `RevocationSet` implements it. */
export interface RevocationCheck {
  isRevoked(claims: RevocableClaims): boolean;
  /** False once the source (Redis) has been silent longer than the staleness bound. */
  isFresh(): boolean;
}

export interface AuthenticatorOptions {
  /** The pinned verifier from @portcullis/jwt, reading keys from `jwks`. */
  verify: (token: string) => VerifyResult;
  jwks: JwksCache;
  revocation: RevocationCheck;
  /** Serve with the last known set when it is stale, instead of answering 503. */
  failOpen: boolean;
  pats: PatExchanger;
  patPrefix: string;
  /** Accepted past `exp`, as the verifier does; the cache honours the same window. */
  clockToleranceSec: number;
  maxCachedTokens: number;
  /** Epoch milliseconds. */
  now: () => number;
}

export type AuthOutcome = Identity | AuthFailure;

const REASON_FAILURE: Partial<Record<VerifyFailure, AuthFailure>> = { expired: FAILURE.expired };

/**
 * The verified-token cache's key: a SHA-256 digest (32 one-byte characters) rather than the token, which is
 * about 550 bytes. With 100,000 tokens cached that is some 50 MB less, for about a microsecond per request.
 * A different token with the same digest would have to be a SHA-256 collision.
 */
function cacheKey(token: string): string {
  return hash('sha256', token, 'binary'); // binary = latin1: one character per byte
}

/**
 * Turns a credential into an identity, or a failure. The common case (a session token seen before) is one
 * Map lookup plus the revocation check, and returns synchronously; a promise is returned only when the
 * network is needed: a PAT not yet exchanged, or a `kid` not yet in the key set.
 *
 * Revocation is checked on every request, cache hits included: a cached identity is never a pass.
 */
export class Authenticator {
  /** Keyed by `cacheKey(token)`. */
  private readonly verified: BoundedCache<string, Identity>;

  constructor(private readonly options: AuthenticatorOptions) {
    this.verified = new BoundedCache(options.maxCachedTokens);
  }

  /** Tokens signed by a key the auth service has retired must be verified again (and fail). */
  forgetVerifiedTokens(): void {
    this.verified.clear();
  }

  get cachedTokens(): number {
    return this.verified.size;
  }

  authenticate(credential: Credential, context: ExchangeContext): AuthOutcome | Promise<AuthOutcome> {
    if (credential.kind === 'jwt') return this.checkToken(credential.value, false);
    const pat = credential.value;
    // The checksum refuses typos and random strings without a call to the auth service.
    if (!parsePat(pat, this.options.patPrefix).ok) return FAILURE.invalidPat;
    const session = this.options.pats.sessionFor(pat, context);
    if (typeof session === 'string') return this.checkPatSession(pat, session);
    return session.then((s) => (typeof s === 'string' ? this.checkPatSession(pat, s) : s));
  }

  private checkPatSession(pat: string, token: string): AuthOutcome | Promise<AuthOutcome> {
    const outcome = this.checkToken(token, true);
    const settle = (result: AuthOutcome): AuthOutcome => {
      // A revoked or unverifiable session is dropped, so the next request exchanges the PAT again: that
      // succeeds only if the PAT itself is still good (a single revoked session, a rotated key).
      if (isFailure(result) && result.code === 'invalid_token') this.options.pats.forget(pat);
      // Cached from a request that sent the session itself (it reached an upstream and came back): the
      // forwarded token must still be this one.
      if (!isFailure(result) && result.token !== token) return { ...result, token };
      return result;
    };
    return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
  }

  /** `keepToken`: the identity keeps the token for forwarding (a PAT's session). */
  private checkToken(token: string, keepToken: boolean): AuthOutcome | Promise<AuthOutcome> {
    const key = cacheKey(token);
    const cached = this.verified.get(key);
    if (cached !== undefined) {
      if (this.options.now() < cached.expiresAtMs) return this.checkRevocation(cached);
      this.verified.delete(key);
    }
    const result = this.verifyAndCache(token, key, keepToken);
    if (result !== 'unknown_kid') return isFailure(result) ? result : this.checkRevocation(result);

    // A kid we do not hold: the auth service may have rotated keys. Ask for the key set again, at most
    // once per interval however many such tokens arrive.
    const refreshing = this.options.jwks.refreshForUnknownKid();
    if (refreshing === false) return this.options.jwks.loaded ? FAILURE.invalid : FAILURE.keysUnavailable;
    return refreshing.then(() => {
      if (!this.options.jwks.loaded) return FAILURE.keysUnavailable;
      const retried = this.verifyAndCache(token, key, keepToken);
      if (retried === 'unknown_kid') return FAILURE.invalid;
      return isFailure(retried) ? retried : this.checkRevocation(retried);
    });
  }

  private verifyAndCache(token: string, key: string, keepToken: boolean): Identity | AuthFailure | 'unknown_kid' {
    const result = this.options.verify(token);
    if (!result.ok) {
      if (result.reason === 'unknown_kid') return 'unknown_kid';
      return REASON_FAILURE[result.reason] ?? FAILURE.invalid;
    }
    const identity = identityFrom(keepToken ? token : undefined, result.claims, this.options.clockToleranceSec);
    if (identity === undefined) return FAILURE.invalid;
    this.verified.set(key, identity);
    return identity;
  }

  private checkRevocation(identity: Identity): AuthOutcome {
    const { revocation } = this.options;
    if (!this.options.failOpen && !revocation.isFresh()) return FAILURE.revocationStale;
    return revocation.isRevoked(identity) ? FAILURE.revoked : identity;
  }
}
