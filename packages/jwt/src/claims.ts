/**
 * Session-token claims (RFC 9068 profile): what auth signs and the gateway reads.
 * `tid` is the PAT the session was minted from; `scope` lists the effective permissions.
 */
export interface SessionClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  /** Issued-at with millisecond precision (RFC 7519 NumericDate may be fractional): revocation compares it exactly. */
  iat: number;
  nbf: number;
  jti: string;
  org: string;
  /** The PAT id; absent for password logins. */
  tid?: string;
  scope: string;
  /** Application name when the exchange named one (Circonus app approval). */
  app?: string;
  client_id: string;
  /** The owner's role when the session was minted; `read_only` sessions may only use safe methods at the gateway. */
  role?: 'admin' | 'normal' | 'read_only';
}

/** Header type pinned on sign and verify (RFC 9068 §2.1). */
export const SESSION_TOKEN_TYPE = 'at+jwt';
/** Algorithm pinned on sign and verify. ES256: measured sign 90 µs, verify 120 µs; RS256 sign 398 µs. */
export const SESSION_TOKEN_ALG = 'ES256';
/** Anything longer is refused before decoding. A Portcullis token is about 600 bytes. */
export const MAX_TOKEN_LENGTH = 4096;

/** `iat` in epoch milliseconds, exact (the claim carries at most three decimals). */
export function issuedAtMs(claims: { iat: number }): number {
  return Math.round(claims.iat * 1000);
}

export function scopeList(scope: string): string[] {
  return scope === '' ? [] : scope.split(' ');
}
