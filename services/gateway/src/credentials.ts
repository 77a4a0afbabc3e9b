import type { IncomingHttpHeaders } from 'node:http';
import { looksLikePat } from '@portcullis/token';
import { type AuthFailure, FAILURE } from './failures.js';

/** A credential as the client sent it, before any check. */
export interface Credential {
  kind: 'jwt' | 'pat';
  value: string;
  /** Where it came from, so the forwarded request can drop or replace exactly that header. */
  via: 'authorization' | 'pat-header';
}

// RFC 6750 §2.1 b64token; covers JWTs (base64url and dots) and PATs (base62 and the prefix's `_`).
const B64TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 auth-scheme: a token. Anything else before the space is not a scheme at all.
const SCHEME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

function credential(value: string, via: Credential['via'], patPrefix: string): Credential | AuthFailure {
  if (!B64TOKEN_RE.test(value)) return FAILURE.malformed;
  return { kind: looksLikePat(value, patPrefix) ? 'pat' : 'jwt', value, via };
}

/**
 * Reads the one credential of a request: `Authorization: Bearer <token>`, a raw `Authorization: <token>`
 * (Appcircle documents both), or a PAT in Kriten's `Token: <key>` header. No credential is `missing` (a
 * challenge without an error code, RFC 6750 §3.1); a credential we cannot read is `malformed` (400); two
 * credentials are refused rather than guessing which one counts.
 */
export function readCredential(
  headers: IncomingHttpHeaders,
  patHeader: string,
  patPrefix: string,
): Credential | AuthFailure {
  const authorization = headers.authorization;
  const patValue = headers[patHeader];
  if (authorization !== undefined && patValue !== undefined) return FAILURE.twoCredentials;

  if (authorization !== undefined) {
    const space = authorization.indexOf(' ');
    if (space === -1) {
      // `Bearer ` arrives trimmed to `Bearer`: a scheme without its token, not a raw token.
      if (authorization === '' || authorization.toLowerCase() === 'bearer') return FAILURE.malformed;
      return credential(authorization, 'authorization', patPrefix);
    }
    const scheme = authorization.slice(0, space);
    if (scheme.length !== 6 || scheme.toLowerCase() !== 'bearer') {
      return SCHEME_RE.test(scheme) ? FAILURE.unsupportedScheme : FAILURE.malformed;
    }
    // 1*SP between scheme and token; nothing after the token.
    return credential(authorization.slice(space + 1).trimStart(), 'authorization', patPrefix);
  }

  if (patValue !== undefined) {
    // Node joins repeated custom headers with ", ", which the b64token test then refuses.
    if (typeof patValue !== 'string' || patValue === '') return FAILURE.malformed;
    return credential(patValue, 'pat-header', patPrefix);
  }
  return FAILURE.missing;
}
