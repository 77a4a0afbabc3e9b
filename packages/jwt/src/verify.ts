import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { MAX_TOKEN_LENGTH, SESSION_TOKEN_ALG, SESSION_TOKEN_TYPE, type SessionClaims } from './claims.js';

export type VerifyFailure =
  | 'malformed'
  | 'too_long'
  | 'header'
  | 'algorithm'
  | 'type'
  | 'unknown_kid'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issuer'
  | 'audience'
  | 'claims';

export type VerifyResult = { ok: true; claims: SessionClaims } | { ok: false; reason: VerifyFailure };

export interface VerifierOptions {
  issuer: string;
  audience: string;
  /** Finds the public key for a `kid`; undefined when the key set does not hold it. */
  keyFor: (kid: string) => KeyObject | undefined;
  clockToleranceSec?: number;
  /** Seconds since the epoch; injected so tests freeze time. */
  now?: () => number;
}

const JWT_SHAPE_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// Header parameters that would let a token choose its own key (RFC 8725 §3.10); we never honour them.
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const;
export const DEFAULT_CLOCK_TOLERANCE_SEC = 5;

interface Header {
  alg?: unknown;
  typ?: unknown;
  kid?: unknown;
  [name: string]: unknown;
}

function decodeHeader(token: string): Header | null {
  const dot = token.indexOf('.');
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Header) : null;
  } catch {
    return null;
  }
}

function isSessionClaims(value: unknown): value is SessionClaims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.sub === 'string' &&
    typeof c.org === 'string' &&
    typeof c.jti === 'string' &&
    typeof c.scope === 'string' &&
    typeof c.exp === 'number' &&
    typeof c.iat === 'number' &&
    (c.tid === undefined || typeof c.tid === 'string') &&
    (c.app === undefined || typeof c.app === 'string')
  );
}

/**
 * Builds a session-token verifier with everything pinned: algorithm, `typ`, issuer, audience, and keys
 * only from the configured set. Returns outcomes as values; never throws for a bad token.
 */
export function createVerifier(options: VerifierOptions): (token: string) => VerifyResult {
  const tolerance = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const verifyOptions = {
    algorithms: [SESSION_TOKEN_ALG] as jwt.Algorithm[],
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: tolerance,
  };

  return function verify(token: string): VerifyResult {
    if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'too_long' };
    if (!JWT_SHAPE_RE.test(token)) return { ok: false, reason: 'malformed' };
    const header = decodeHeader(token);
    if (!header) return { ok: false, reason: 'malformed' };
    if (header.alg !== SESSION_TOKEN_ALG) return { ok: false, reason: 'algorithm' };
    if (header.typ !== SESSION_TOKEN_TYPE) return { ok: false, reason: 'type' };
    if (FORBIDDEN_HEADERS.some((name) => name in header)) return { ok: false, reason: 'header' };
    if (typeof header.kid !== 'string') return { ok: false, reason: 'unknown_kid' };
    const key = options.keyFor(header.kid);
    if (!key) return { ok: false, reason: 'unknown_kid' };

    let payload: unknown;
    try {
      payload = jwt.verify(token, key, { ...verifyOptions, clockTimestamp: now() });
    } catch (error) {
      return { ok: false, reason: failureOf(error) };
    }
    if (!isSessionClaims(payload)) return { ok: false, reason: 'claims' };
    return { ok: true, claims: payload };
  };
}

function failureOf(error: unknown): VerifyFailure {
  if (error instanceof jwt.TokenExpiredError) return 'expired';
  if (error instanceof jwt.NotBeforeError) return 'not_yet_valid';
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('jwt issuer invalid')) return 'issuer';
  if (message.startsWith('jwt audience invalid')) return 'audience';
  if (message === 'invalid signature') return 'signature';
  if (message === 'invalid algorithm') return 'algorithm';
  return 'malformed';
}
