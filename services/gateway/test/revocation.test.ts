import { Writable } from 'node:stream';
import { pino } from 'pino';
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
    const lines: { msg: string; reason?: string; requestId?: string; alsoRefused?: number }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
        done();
      },
    });
    stack = await startStack({ env: { REVOCATION_STALENESS: '5s' }, logger: pino({ level: 'info' }, sink) });
    const token = stack.auth.token();
    expect((await call(stack.url, '/', { headers: bearer(token) })).status).toBe(200);

    stack.clock.ms += 5_001;
    const before = stack.upstream.hits;
    const res = await call(stack.url, '/', { headers: bearer(token) });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ code: 'service_unavailable', message: 'Service temporarily unavailable' });
    expect(stack.upstream.hits).toBe(before);
    // The client gets the generic text; the log says why, once a second however many are refused.
    for (let i = 0; i < 3; i++) expect((await call(stack.url, '/', { headers: bearer(token) })).status).toBe(503);
    stack.clock.ms += 1_000;
    const later = await call(stack.url, '/', { headers: bearer(token) });
    const warnings = lines.filter((line) => line.msg === 'answering 503');
    expect(warnings).toEqual([
      expect.objectContaining({ reason: 'revocation set is stale', requestId: res.json().requestId, alsoRefused: 0 }),
      expect.objectContaining({ reason: 'revocation set is stale', requestId: later.json().requestId, alsoRefused: 3 }),
    ]);
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
