import { generateSigningKey } from '@portcullis/jwt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attackTokens, claimsFor } from '../../../test/support/forge.js';
import { TEST_AUDIENCE, TEST_ISSUER, bearer, call } from '../../../test/support/gateway-harness.js';
import { T0, type TestStack, startStack } from './helpers.js';

const ROUTES = `
routes:
  - prefix: /builds
    upstream: "{{upstream}}"
    permissions:
      GET: builds:read
      POST: builds:write
  - prefix: /
    upstream: "{{upstream}}"
`;

// The attack names are known before the stack (and its key) exist, so `it.each` can list them.
const ATTACK_NAMES = Object.keys(attackTokens(generateSigningKey(), claimsFor()));

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ routes: ROUTES });
});
afterAll(async () => {
  await stack.close();
});
beforeEach(() => {
  stack.clock.ms = T0;
});

function expectNotForwarded(before: number): void {
  expect(stack.upstream.hits).toBe(before);
}

describe('a valid session token', () => {
  it('is proxied with the identity headers set by the gateway (200)', async () => {
    const token = stack.auth.token({ sub: 'user-7', org: 'org-3', tid: 'pat-9', scope: 'builds:read other' });
    const res = await call(stack.url, '/builds/42?full=1', { headers: bearer(token) });
    expect(res.status).toBe(200);
    const echo = res.json();
    expect(echo.url).toBe('/builds/42?full=1');
    expect(echo.headers).toMatchObject({
      'x-auth-subject': 'user-7',
      'x-auth-org': 'org-3',
      'x-auth-token-id': 'pat-9',
      'x-auth-scope': 'builds:read other',
      authorization: `Bearer ${token}`,
    });
  });

  it('replaces identity headers the client sent, in any spelling, on every route (200)', async () => {
    const token = stack.auth.token({ sub: 'real-user', org: 'real-org', tid: undefined });
    const res = await call(stack.url, '/anything', {
      headers: [
        ...bearer(token),
        ['X-Auth-Subject', 'admin'],
        ['x-auth-subject', 'admin-again'],
        ['X-Auth-Org', 'other-org'],
        ['X-Auth-Token-Id', 'forged-pat'],
        ['X-Auth-Scope', '*'],
        ['X_Auth_Subject', 'underscore-admin'],
        ['x-auth_scope', 'underscore-scope'],
      ],
    });
    expect(res.status).toBe(200);
    const headers = res.json().headers;
    expect(headers['x-auth-subject']).toBe('real-user');
    expect(headers['x-auth-org']).toBe('real-org');
    expect(headers['x-auth-scope']).toBe('*');
    // No tid in a password-login session: the client's copy is removed, not kept.
    expect(headers).not.toHaveProperty('x-auth-token-id');
    expect(headers).not.toHaveProperty('x_auth_subject');
    expect(headers).not.toHaveProperty('x-auth_scope');
  });

  it('is accepted raw, without the Bearer scheme, and forwarded in Bearer form (200)', async () => {
    const token = stack.auth.token();
    const res = await call(stack.url, '/raw', { headers: [['authorization', token]] });
    expect(res.status).toBe(200);
    expect(res.json().headers.authorization).toBe(`Bearer ${token}`);
  });

  it('accepts the scheme in any case (200)', async () => {
    const res = await call(stack.url, '/case', { headers: [['authorization', `bEaReR ${stack.auth.token()}`]] });
    expect(res.status).toBe(200);
  });

  it('is refused once expired, even after being cached (401 invalid_token)', async () => {
    const token = stack.auth.token({ exp: Math.floor(T0 / 1000) + 60 });
    expect((await call(stack.url, '/cached', { headers: bearer(token) })).status).toBe(200);
    stack.clock.ms = T0 + 60_000 + 5_000 + 1_000; // past exp and the 5 s tolerance
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/cached', { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'invalid_token', message: 'The access token expired' });
    expectNotForwarded(before);
  });
});

describe('rejections (the upstream is never called)', () => {
  const nowSec = Math.floor(T0 / 1000);
  let attacks: Record<string, string>;
  beforeAll(() => {
    attacks = attackTokens(stack.auth.signingKey, claimsFor({ iss: TEST_ISSUER, aud: TEST_AUDIENCE }, nowSec));
  });

  it.each(ATTACK_NAMES)('refuses %s (401 invalid_token)', async (name) => {
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/builds', { headers: bearer(attacks[name]!) });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'invalid_token', requestId: expect.any(String) });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
    expectNotForwarded(before);
  });

  it('answers a request without credentials with a bare challenge (401, no error code)', async () => {
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/builds');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="portcullis"');
    expect(res.json()).toMatchObject({ code: 'unauthorized', requestId: res.headers['x-request-id'] });
    expectNotForwarded(before);
  });

  it('treats another scheme as no bearer credentials (401, no error code)', async () => {
    const res = await call(stack.url, '/builds', { headers: [['authorization', 'Basic dXNlcjpwYXNz']] });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="portcullis"');
  });

  it.each([
    ['an empty Bearer', 'Bearer '],
    ['two tokens', 'Bearer abc def'],
    ['characters outside b64token', 'Bearer abc$def'],
    ['an empty header', ''],
  ])('refuses %s as malformed (400 invalid_request)', async (_name, value) => {
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/builds', { headers: [['authorization', value]] });
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ code: 'invalid_request' });
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_request"/);
    expectNotForwarded(before);
  });

  it('refuses two Authorization headers (400 invalid_request)', async () => {
    const token = stack.auth.token();
    const res = await call(stack.url, '/builds', { headers: [...bearer(token), ...bearer(token)] });
    expect(res.status).toBe(400);
    expect(res.json().code).toBe('invalid_request');
  });

  it('refuses a token and a PAT header together (400 invalid_request)', async () => {
    const res = await call(stack.url, '/', { headers: [...bearer(stack.auth.token()), ['token', stack.auth.registerPat()]] });
    expect(res.status).toBe(400);
  });

  it('refuses a token without the permission the method needs (403 insufficient_scope)', async () => {
    const before = stack.upstream.hits;
    const token = stack.auth.token({ scope: 'builds:read' });
    expect((await call(stack.url, '/builds', { headers: bearer(token) })).status).toBe(200);
    const res = await call(stack.url, '/builds', { method: 'POST', headers: bearer(token), body: '{}' });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'insufficient_scope' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="portcullis", error="insufficient_scope", error_description="This request needs the permission builds:write", scope="builds:write"',
    );
    expectNotForwarded(before + 1);
  });

  it('lets * grant every permission, and HEAD use GET\'s (200)', async () => {
    const token = stack.auth.token({ scope: '*' });
    expect((await call(stack.url, '/builds', { method: 'POST', headers: bearer(token) })).status).toBe(200);
    const head = await call(stack.url, '/builds', { method: 'HEAD', headers: bearer(stack.auth.token({ scope: 'builds:read' })) });
    expect(head.status).toBe(200);
  });

  it('limits a read_only owner to safe methods, whatever the scope (403 insufficient_scope, 200)', async () => {
    const token = stack.auth.token({ scope: '*', role: 'read_only' });
    expect((await call(stack.url, '/builds', { headers: bearer(token) })).status).toBe(200);
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/anything', { method: 'PUT', headers: bearer(token) });
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'insufficient_scope', message: 'A read_only user may only use GET, HEAD and OPTIONS' });
    expectNotForwarded(before);
  });

  it('answers a method the route does not list (405 with Allow)', async () => {
    const res = await call(stack.url, '/builds/1', { method: 'DELETE', headers: bearer(stack.auth.token()) });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, POST, HEAD');
  });
});

describe('revocation', () => {
  it('refuses a token whose session was revoked, cached or not (401 invalid_token)', async () => {
    const jti = `session-${Date.now()}`;
    const token = stack.auth.token({ jti });
    expect((await call(stack.url, '/r', { headers: bearer(token) })).status).toBe(200);
    await stack.bus.revoke([{ kind: 'session', id: jti, revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/r', { headers: bearer(token) });
    expect(res.status).toBe(401);
    expect(res.json()).toMatchObject({ code: 'invalid_token', message: 'The access token has been revoked' });
    expectNotForwarded(before);
  });

  it("refuses every session of a user whose revocation covers them (role lowered, deleted) (401)", async () => {
    const sub = `user-${Date.now()}`;
    const token = stack.auth.token({ sub, tid: 'some-pat' });
    await stack.bus.revoke([{ kind: 'token', id: sub, revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    expect((await call(stack.url, '/r', { headers: bearer(token) })).status).toBe(401);
  });

  it('refuses the sessions issued to an application denied for that PAT, and only those (401, 200)', async () => {
    const tid = `pat-app-${Date.now()}`;
    const denied = stack.auth.token({ tid, app: 'ci-bot' });
    const other = stack.auth.token({ tid, app: 'laptop' });
    await stack.bus.revoke([{ kind: 'token', id: `${tid}/ci-bot`, revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    expect((await call(stack.url, '/r', { headers: bearer(denied) })).status).toBe(401);
    expect((await call(stack.url, '/r', { headers: bearer(other) })).status).toBe(200);
  });

  it('refuses every session minted from a revoked PAT before the revocation (401)', async () => {
    const tid = `pat-${Date.now()}`;
    const old = stack.auth.token({ tid });
    await stack.bus.revoke([{ kind: 'token', id: tid, revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    expect((await call(stack.url, '/r', { headers: bearer(old) })).status).toBe(401);
    stack.clock.ms += 2_000;
    expect((await call(stack.url, '/r', { headers: bearer(stack.auth.token({ tid })) })).status).toBe(200);
  });
});
