import { afterEach, describe, expect, it } from 'vitest';
import { bearer, call } from '../../../test/support/gateway-harness.js';
import { type TestStack, startStack } from './helpers.js';

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('a stale revocation set', () => {
  it('fails closed on authenticated routes once past REVOCATION_STALENESS (503), public routes still pass', async () => {
    stack = await startStack({ env: { REVOCATION_STALENESS: '5s' } });
    const token = stack.auth.token();
    expect((await call(stack.url, '/', { headers: bearer(token) })).status).toBe(200);

    stack.clock.ms += 5_001;
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/', { headers: bearer(token) });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ code: 'service_unavailable', message: 'Service temporarily unavailable' });
    expect(stack.upstream.hits).toBe(before);
    expect((await call(stack.url, '/readyz')).status).toBe(503);
    expect((await call(stack.url, '/.well-known/jwks.json')).status).toBe(200);

    // Contact again (a heartbeat, a message): service resumes by itself.
    await stack.bus.revoke([{ kind: 'session', id: 'unrelated', revokedAt: stack.clock.ms, until: stack.clock.ms + 60_000 }]);
    expect((await call(stack.url, '/', { headers: bearer(token) })).status).toBe(200);
  });

  it('passes with REVOCATION_FAIL_OPEN, still refusing what it knows is revoked (200, 401)', async () => {
    stack = await startStack({ env: { REVOCATION_STALENESS: '5s', REVOCATION_FAIL_OPEN: 'true' } });
    const revoked = stack.auth.token({ jti: 'known-revoked' });
    await stack.bus.revoke([{ kind: 'session', id: 'known-revoked', revokedAt: stack.clock.ms, until: stack.clock.ms + 3_600_000 }]);
    stack.clock.ms += 60_000;
    expect((await call(stack.url, '/', { headers: bearer(stack.auth.token()) })).status).toBe(200);
    expect((await call(stack.url, '/', { headers: bearer(revoked) })).status).toBe(401);
    expect((await call(stack.url, '/readyz')).json()).toMatchObject({ status: 'ready', checks: { revocation: 'failing' } });
  });
});
