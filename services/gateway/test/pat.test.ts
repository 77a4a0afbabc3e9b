import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bearer, call } from '../../../test/support/gateway-harness.js';
import { T0, type TestStack, startStack } from './helpers.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});
beforeEach(() => {
  stack.clock.ms = T0;
});

describe('a PAT sent straight to the gateway', () => {
  it('is exchanged once for many requests, and the upstream sees the session token, never the PAT (200)', async () => {
    const pat = stack.auth.registerPat({ sub: 'pat-user', tid: 'pat-id-1', scope: 'a b' });
    const before = stack.auth.exchanges;
    for (let i = 0; i < 5; i += 1) {
      const res = await call(stack.url, '/with-pat', { headers: bearer(pat) });
      expect(res.status).toBe(200);
      const headers = res.json().headers;
      expect(headers).toMatchObject({ 'x-auth-subject': 'pat-user', 'x-auth-token-id': 'pat-id-1', 'x-auth-scope': 'a b' });
      expect(headers.authorization).toMatch(/^Bearer eyJ/);
      expect(JSON.stringify(headers)).not.toContain(pat);
    }
    expect(stack.auth.exchanges - before).toBe(1);
  });

  it("is accepted in Kriten's Token header, which is not forwarded (200)", async () => {
    const pat = stack.auth.registerPat({ sub: 'kriten-user' });
    const before = stack.auth.exchanges;
    for (let i = 0; i < 3; i += 1) {
      const res = await call(stack.url, '/with-token-header', { headers: [['Token', pat]] });
      expect(res.status).toBe(200);
      const headers = res.json().headers;
      expect(headers['x-auth-subject']).toBe('kriten-user');
      expect(headers).not.toHaveProperty('token');
      expect(headers.authorization).toMatch(/^Bearer eyJ/);
    }
    expect(stack.auth.exchanges - before).toBe(1);
  });

  it('shares one exchange between concurrent requests (200)', async () => {
    const pat = stack.auth.registerPat();
    const before = stack.auth.exchanges;
    const results = await Promise.all(Array.from({ length: 20 }, () => call(stack.url, '/concurrent', { headers: bearer(pat) })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(stack.auth.exchanges - before).toBe(1);
  });

  it('is exchanged again shortly before its session token expires (200)', async () => {
    stack.auth.exchangeLifetimeSec = 600;
    const pat = stack.auth.registerPat();
    const before = stack.auth.exchanges;
    await call(stack.url, '/renew', { headers: bearer(pat) });
    stack.clock.ms = T0 + 569_000; // 31 s before expiry: the session is still used
    await call(stack.url, '/renew', { headers: bearer(pat) });
    expect(stack.auth.exchanges - before).toBe(1);
    stack.clock.ms = T0 + 571_000; // inside the 30 s margin: exchanged again
    const res = await call(stack.url, '/renew', { headers: bearer(pat) });
    expect(res.status).toBe(200);
    expect(stack.auth.exchanges - before).toBe(2);
  });

  it('with a bad checksum is refused without asking the auth service (401 invalid_token)', async () => {
    const pat = stack.auth.registerPat();
    const typo = `${pat.slice(0, -1)}${pat.endsWith('A') ? 'B' : 'A'}`;
    const before = { exchanges: stack.auth.exchanges, hits: stack.upstream.hits };
    const res = await call(stack.url, '/typo', { headers: bearer(typo) });
    expect(res.status).toBe(401);
    expect(res.json().code).toBe('invalid_token');
    expect(stack.auth.exchanges).toBe(before.exchanges);
    expect(stack.upstream.hits).toBe(before.hits);
  });

  it('that auth refuses is refused (401 invalid_token)', async () => {
    const { generatePat } = await import('@portcullis/token');
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/unknown', { headers: bearer(generatePat().key) });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/personal access token/) });
    expect(stack.upstream.hits).toBe(before);
  });

  it('is refused once revoked, exactly like its session tokens (401)', async () => {
    const tid = `revoked-pat-${Date.now()}`;
    const pat = stack.auth.registerPat({ tid });
    expect((await call(stack.url, '/pat-revoked', { headers: bearer(pat) })).status).toBe(200);
    await stack.bus.revoke([{ kind: 'token', id: tid, revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    const res = await call(stack.url, '/pat-revoked', { headers: bearer(pat) });
    expect(res.status).toBe(401);
    expect(res.json().message).toBe('The access token has been revoked');
  });

  it('answers 503 when the auth service cannot be reached, and keeps serving (503)', async () => {
    const down = await startStack({ env: { AUTH_URL: 'http://127.0.0.1:1' } });
    try {
      const pat = down.auth.registerPat();
      const res = await call(down.url, '/x', { headers: bearer(pat) });
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ code: 'service_unavailable', message: 'Service temporarily unavailable' });
    } finally {
      await down.close();
    }
  });
});
