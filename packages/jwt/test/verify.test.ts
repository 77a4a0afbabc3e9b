import { describe, expect, it } from 'vitest';
import {
  createVerifier,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  parseJwks,
  signSessionToken,
  toJwks,
} from '../src/index.js';
import { attackTokens, claimsFor } from '../../../test/support/forge.js';

const key = generateSigningKey();
const NOW = 1_800_000_000;

function verifier(now = NOW) {
  const keys = parseJwks(toJwks([key]));
  return createVerifier({
    issuer: 'http://auth.test',
    audience: 'portcullis',
    keyFor: (kid) => keys.get(kid),
    now: () => now,
  });
}

describe('session token verifier', () => {
  it('accepts a token signed by auth, with its claims', () => {
    const claims = claimsFor({}, NOW);
    const result = verifier()(signSessionToken(claims, key));
    expect(result).toEqual({ ok: true, claims });
  });

  it('checks expiry against the injected clock with a small tolerance', () => {
    const token = signSessionToken(claimsFor({ exp: NOW + 60 }, NOW), key);
    expect(verifier(NOW + 64)(token).ok).toBe(true);
    expect(verifier(NOW + 66)(token)).toEqual({ ok: false, reason: 'expired' });
  });

  const attacks = attackTokens(key, claimsFor({}, NOW));
  it.each(Object.keys(attacks))('rejects %s', (name) => {
    const result = verifier()(attacks[name]!);
    expect(result.ok).toBe(false);
  });

  it('names the reason for the pinned checks', () => {
    const v = verifier();
    expect(v(attacks['alg none']!)).toEqual({ ok: false, reason: 'malformed' });
    expect(v(attacks['alg nOnE with signature']!)).toEqual({ ok: false, reason: 'algorithm' });
    expect(v(attacks['HS256 with the public key as secret']!)).toEqual({ ok: false, reason: 'algorithm' });
    expect(v(attacks['kid not in the key set']!)).toEqual({ ok: false, reason: 'unknown_kid' });
    expect(v(attacks['jku header']!)).toEqual({ ok: false, reason: 'header' });
    expect(v(attacks['wrong iss']!)).toEqual({ ok: false, reason: 'issuer' });
    expect(v(attacks['wrong aud']!)).toEqual({ ok: false, reason: 'audience' });
    expect(v(attacks['wrong typ']!)).toEqual({ ok: false, reason: 'type' });
    expect(v(attacks['tampered payload']!)).toEqual({ ok: false, reason: 'signature' });
    expect(v(attacks['not yet valid']!)).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect(v(attacks.oversized!)).toEqual({ ok: false, reason: 'too_long' });
  });
});

describe('signing keys', () => {
  it('survive export and import with the same kid and a working key', () => {
    const restored = importSigningKey(exportSigningKey(key));
    expect(restored.kid).toBe(key.kid);
    const token = signSessionToken(claimsFor({}, NOW), restored);
    expect(verifier()(token).ok).toBe(true);
  });

  it('publish only public parameters in the JWKS', () => {
    const jwks = toJwks([key]);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: key.kid });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('parseJwks skips foreign and malformed keys', () => {
    const good = toJwks([key]).keys[0]!;
    const parsed = parseJwks({
      keys: [good, { kty: 'RSA', kid: 'r', n: 'x', e: 'AQAB' }, { ...good, kid: 'bad', x: 'AAAA' }, null, 'x'],
    });
    expect([...parsed.keys()]).toEqual([key.kid]);
    expect(parseJwks('nope').size).toBe(0);
    expect(parseJwks({ keys: 'x' }).size).toBe(0);
  });
});
