import { createHmac, randomUUID, sign as cryptoSign } from 'node:crypto';
import type { SessionClaims, SigningKey } from '@portcullis/jwt';

/** Hand-built JWTs for attack tests: every header and byte is under the test's control. */
export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

export function claimsFor(overrides: Partial<SessionClaims> = {}, nowSec = Math.floor(Date.now() / 1000)): SessionClaims {
  return {
    iss: 'http://auth.test',
    sub: 'user-1',
    aud: 'portcullis',
    exp: nowSec + 600,
    iat: nowSec,
    nbf: nowSec,
    jti: randomUUID(),
    org: 'org-1',
    tid: 'tid-1',
    scope: '*',
    client_id: 'portcullis',
    ...overrides,
  };
}

/** Signs `payload` under `header` with ES256 (IEEE P1363 signature, as JWS requires). */
export function signEs256(header: Record<string, unknown>, payload: unknown, key: SigningKey): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export function signHs256(header: Record<string, unknown>, payload: unknown, secret: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export function unsigned(header: Record<string, unknown>, payload: unknown): string {
  return `${b64url(header)}.${b64url(payload)}.`;
}

/** The attacks every verifier must refuse, each built against a real key and the valid claims. */
export function attackTokens(key: SigningKey, claims: SessionClaims): Record<string, string> {
  const good = { alg: 'ES256', typ: 'at+jwt', kid: key.kid };
  const pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const valid = signEs256(good, claims, key);
  const [h, p, s] = valid.split('.') as [string, string, string];
  const tamperedPayload = b64url({ ...claims, scope: '* admin', sub: 'someone-else' });
  return {
    'alg none': unsigned({ ...good, alg: 'none' }, claims),
    'alg None': unsigned({ ...good, alg: 'None' }, claims),
    'alg NONE': unsigned({ ...good, alg: 'NONE' }, claims),
    'alg nOnE with signature': `${b64url({ ...good, alg: 'nOnE' })}.${p}.${s}`,
    'HS256 with the public key as secret': signHs256({ ...good, alg: 'HS256' }, claims, pem),
    'kid not in the key set': signEs256({ ...good, kid: 'not-a-key' }, claims, key),
    'path-traversal kid': signEs256({ ...good, kid: '../../../../etc/passwd' }, claims, key),
    'SQL-looking kid': signEs256({ ...good, kid: "' OR 1=1 --" }, claims, key),
    'missing kid': signEs256({ alg: 'ES256', typ: 'at+jwt' }, claims, key),
    'jku header': signEs256({ ...good, jku: 'https://evil.example/jwks.json' }, claims, key),
    'x5u header': signEs256({ ...good, x5u: 'https://evil.example/cert.pem' }, claims, key),
    'jwk header': signEs256({ ...good, jwk: key.publicKey.export({ format: 'jwk' }) }, claims, key),
    expired: signEs256(good, { ...claims, exp: claims.iat - 3600, iat: claims.iat - 7200, nbf: claims.iat - 7200 }, key),
    'not yet valid': signEs256(good, { ...claims, nbf: claims.iat + 3600 }, key),
    'wrong iss': signEs256(good, { ...claims, iss: 'http://evil.example' }, key),
    'wrong aud': signEs256(good, { ...claims, aud: 'someone-else' }, key),
    'wrong typ': signEs256({ ...good, typ: 'JWT' }, claims, key),
    'missing typ': signEs256({ alg: 'ES256', kid: key.kid }, claims, key),
    'tampered payload': `${h}.${tamperedPayload}.${s}`,
    'stripped signature': `${h}.${p}.`,
    'truncated signature': `${h}.${p}.${s.slice(0, -4)}`,
    oversized: signEs256(good, { ...claims, pad: 'x'.repeat(5000) }, key),
    garbage: 'not.a.jwt',
    'two segments': `${h}.${p}`,
  };
}
