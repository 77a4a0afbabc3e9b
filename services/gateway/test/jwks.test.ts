import { generateSigningKey } from '@portcullis/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEs256, claimsFor } from '../../../test/support/forge.js';
import { TEST_AUDIENCE, TEST_ISSUER, bearer, call } from '../../../test/support/gateway-harness.js';
import { T0, type TestStack, startStack } from './helpers.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

/** A well-formed token naming a `kid` the key set does not hold. */
function unknownKidToken(kid: string): string {
  const claims = claimsFor({ iss: TEST_ISSUER, aud: TEST_AUDIENCE }, Math.floor(stack.clock.ms / 1000));
  return signEs256({ alg: 'ES256', typ: 'at+jwt', kid }, claims, generateSigningKey());
}

describe('the JWKS cache', () => {
  it('is loaded at start (one fetch) and serves every token from memory', async () => {
    expect(stack.gateway.jwks.loaded).toBe(true);
    const fetches = stack.auth.jwksFetches;
    for (let i = 0; i < 3; i += 1) expect((await call(stack.url, '/', { headers: bearer(stack.auth.token()) })).status).toBe(200);
    expect(stack.auth.jwksFetches).toBe(fetches);
  });

  it('refetches on an unknown kid at most once per interval, however many arrive', async () => {
    stack.clock.ms = T0;
    const start = stack.auth.jwksFetches;
    // Within 5 s of the start-up fetch: refused without a fetch.
    expect((await call(stack.url, '/', { headers: bearer(unknownKidToken('made-up-1')) })).status).toBe(401);
    expect(stack.auth.jwksFetches).toBe(start);

    stack.clock.ms = T0 + 5_000;
    const flood = await Promise.all(
      Array.from({ length: 25 }, (_, i) => call(stack.url, '/', { headers: bearer(unknownKidToken(`flood-${i}`)) })),
    );
    expect(flood.every((r) => r.status === 401)).toBe(true);
    expect(stack.auth.jwksFetches).toBe(start + 1);

    stack.clock.ms = T0 + 9_999;
    await call(stack.url, '/', { headers: bearer(unknownKidToken('made-up-2')) });
    expect(stack.auth.jwksFetches).toBe(start + 1);

    stack.clock.ms = T0 + 10_000;
    await call(stack.url, '/', { headers: bearer(unknownKidToken('made-up-3')) });
    expect(stack.auth.jwksFetches).toBe(start + 2);
  });

  it('picks up a rotated key on demand, so tokens signed with it work at once (200)', async () => {
    stack.clock.ms += 60_000;
    const old = stack.auth.signingKey;
    const oldToken = stack.auth.token();
    expect((await call(stack.url, '/', { headers: bearer(oldToken) })).status).toBe(200);

    const next = generateSigningKey();
    stack.auth.keys = [old, next];
    stack.auth.signingKey = next;
    const fetches = stack.auth.jwksFetches;
    const res = await call(stack.url, '/rotated', { headers: bearer(stack.auth.token()) });
    expect(res.status).toBe(200);
    expect(stack.auth.jwksFetches).toBe(fetches + 1);
    // Tokens signed with the previous key stay valid while it is published.
    expect((await call(stack.url, '/', { headers: bearer(oldToken) })).status).toBe(200);

    // Once the key is retired, cached tokens signed with it are refused too.
    stack.auth.keys = [next];
    await stack.gateway.jwks.refresh();
    expect((await call(stack.url, '/', { headers: bearer(oldToken) })).status).toBe(401);
  });
});

describe('without a key set', () => {
  it('answers 503 on authenticated routes and /readyz, not 401', async () => {
    const cold = await startStack({ env: { JWKS_URL: 'http://127.0.0.1:1/jwks.json' } });
    try {
      expect(cold.gateway.jwks.loaded).toBe(false);
      const res = await call(cold.url, '/', { headers: bearer(cold.auth.token()) });
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ code: 'service_unavailable' });
      const ready = await call(cold.url, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({ status: 'not_ready', checks: { jwks: 'failing' } });
    } finally {
      await cold.close();
    }
  });
});
