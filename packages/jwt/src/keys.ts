import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SESSION_TOKEN_ALG } from './claims.js';

/** A signing key parsed once into KeyObjects (jsonwebtoken given PEM text on every call is 4–40× slower). */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  createdAt: Date;
}

/** How a signing key is persisted: the private key as PKCS#8 PEM, never logged. */
export interface StoredSigningKey {
  kid: string;
  privateKeyPem: string;
  createdAt: Date;
}

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: typeof SESSION_TOKEN_ALG;
  use: 'sig';
}

export interface Jwks {
  keys: PublicJwk[];
}

/** RFC 7638 thumbprint: a kid derived from the key itself, stable across restarts. */
function thumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function generateSigningKey(now: Date = new Date()): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid: thumbprint(publicKey), privateKey, publicKey, createdAt: now };
}

export function exportSigningKey(key: SigningKey): StoredSigningKey {
  return {
    kid: key.kid,
    privateKeyPem: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    createdAt: key.createdAt,
  };
}

export function importSigningKey(stored: StoredSigningKey): SigningKey {
  const privateKey = createPrivateKey(stored.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  return { kid: stored.kid, privateKey, publicKey, createdAt: stored.createdAt };
}

export function toPublicJwk(kid: string, publicKey: KeyObject): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y), kid, alg: SESSION_TOKEN_ALG, use: 'sig' };
}

export function toJwks(keys: readonly SigningKey[]): Jwks {
  return { keys: keys.map((k) => toPublicJwk(k.kid, k.publicKey)) };
}

const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const MAX_JWKS_KEYS = 32;

/**
 * Parses a JWKS document from the network into KeyObjects, keeping only keys this project signs with
 * (EC P-256, ES256, use sig). Anything else in the set is ignored; a malformed document yields no keys.
 */
export function parseJwks(doc: unknown): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) return keys;
  for (const raw of (doc as { keys: unknown[] }).keys.slice(0, MAX_JWKS_KEYS)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const k = raw as Record<string, unknown>;
    if (k.kty !== 'EC' || k.crv !== 'P-256' || (k.alg !== undefined && k.alg !== SESSION_TOKEN_ALG)) continue;
    if (k.use !== undefined && k.use !== 'sig') continue;
    if (typeof k.kid !== 'string' || k.kid.length === 0 || k.kid.length > 128) continue;
    if (typeof k.x !== 'string' || typeof k.y !== 'string' || !B64URL_RE.test(k.x) || !B64URL_RE.test(k.y)) continue;
    try {
      keys.set(k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' }));
    } catch {
      // Not a point on the curve: skip this key, keep the others.
    }
  }
  return keys;
}
