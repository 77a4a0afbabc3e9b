import { type SessionClaims, scopeList } from '@portcullis/jwt';
import type { RevocableClaims } from '@portcullis/revocation';

/**
 * What the gateway knows about a caller once its session token is verified: built once per token and
 * cached, so a request on the common path reads precomputed fields instead of re-deriving them.
 *
 * It is also what the revocation set checks on every request, so the revocable claims keep their claim
 * names (`sub`, `tid`, `app`, `jti`, `iat`): extending RevocableClaims makes a change to that contract
 * break this compile rather than silently skip a check.
 */
export interface Identity extends RevocableClaims {
  /**
   * The session JWT, kept only for sessions the gateway got by exchanging a PAT: it forwards them in place
   * of the PAT. A token the client sent is in its request; keeping a copy per cached token would double
   * the cache's memory.
   */
  readonly token: string | undefined;
  readonly sub: string;
  readonly org: string;
  /** The PAT id the session was minted from; absent for password logins. */
  readonly tid: string | undefined;
  /** The application the session was issued to, when the exchange named one. */
  readonly app: string | undefined;
  readonly jti: string;
  /** Seconds since the epoch, as in the claim (auth writes milliseconds as decimals). */
  readonly iat: number;
  /** The owner's role when the session was minted: `read_only` may only use safe methods. */
  readonly role: SessionClaims['role'];
  /** Epoch milliseconds after which the cached entry is no longer used: `exp` plus the clock tolerance. */
  readonly expiresAtMs: number;
  readonly scope: string;
  /** `*` in the scope grants every permission. */
  readonly allScopes: boolean;
  readonly scopes: ReadonlySet<string>;
}

// Identity values become upstream header values: refuse anything Node would reject or an upstream misread.
const HEADER_VALUE_RE = /^[\x20-\x7e]*$/;

/** A scope string parsed once, shared by every identity that carries the same one. */
interface ParsedScope {
  readonly scope: string;
  readonly allScopes: boolean;
  readonly scopes: ReadonlySet<string>;
}

/**
 * Most cached sessions share a handful of scope strings (and subjects and organizations): sharing one
 * parsed copy of each keeps a cached token's footprint close to the token itself. Bounded, so a stream of
 * distinct values cannot grow it without limit; past the bound, values are simply not shared.
 */
const MAX_SHARED = 10_000;
const sharedScopes = new Map<string, ParsedScope>();
const sharedStrings = new Map<string, string>();

function parsedScope(scope: string): ParsedScope {
  const known = sharedScopes.get(scope);
  if (known) return known;
  const scopes = new Set(scopeList(scope));
  const parsed = { scope, allScopes: scopes.has('*'), scopes };
  if (sharedScopes.size < MAX_SHARED) sharedScopes.set(scope, parsed);
  return parsed;
}

function shared(value: string): string {
  const known = sharedStrings.get(value);
  if (known !== undefined) return known;
  if (sharedStrings.size < MAX_SHARED) sharedStrings.set(value, value);
  return value;
}

/**
 * Builds the identity for verified claims, or undefined when a claim cannot travel in a header. `token`:
 * the session to keep for forwarding (a PAT's session), else undefined.
 */
export function identityFrom(token: string | undefined, claims: SessionClaims, clockToleranceSec: number): Identity | undefined {
  const values = [claims.sub, claims.org, claims.scope, claims.tid ?? ''];
  if (!values.every((v) => HEADER_VALUE_RE.test(v))) return undefined;
  const { scope, allScopes, scopes } = parsedScope(claims.scope);
  return {
    token,
    sub: shared(claims.sub),
    org: shared(claims.org),
    tid: claims.tid,
    app: claims.app === undefined ? undefined : shared(claims.app),
    jti: claims.jti,
    iat: claims.iat,
    role: claims.role,
    expiresAtMs: (claims.exp + clockToleranceSec) * 1000,
    scope,
    allScopes,
    scopes,
  };
}

/** Methods that only read (RFC 9110 §9.2.1): all a `read_only` owner's sessions may use. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export function roleAllowsMethod(identity: Identity, method: string): boolean {
  return identity.role !== 'read_only' || SAFE_METHODS.has(method);
}

/** Whether `identity` may use `permission` (null: the route needs none beyond a valid token). */
export function grants(identity: Identity, permission: string | null): boolean {
  return permission === null || identity.allScopes || identity.scopes.has(permission);
}
