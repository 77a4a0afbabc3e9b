import { describe, expect, it } from 'vitest';
import { bearer, call } from '../../../test/support/gateway-harness.js';
import { startStack } from './helpers.js';

describe('shutdown', () => {
  it('stops accepting, lets the request in flight finish, then closes', async () => {
    const stack = await startStack();
    const held = stack.upstream.nextHold();
    const inFlight = call(stack.url, '/hold', { headers: bearer(stack.auth.token()) });
    await held;

    const closed = stack.gateway.close();
    await expect(call(stack.url, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    stack.upstream.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('released');
    await closed;
    await stack.close();
  });
});

describe('behind a trusted proxy (TRUST_PROXY=true)', () => {
  it('appends to X-Forwarded-* instead of replacing them (200)', async () => {
    const stack = await startStack({ env: { TRUST_PROXY: 'true' } });
    try {
      const res = await call(stack.url, '/fwd', {
        headers: [...bearer(stack.auth.token()), ['x-forwarded-for', '203.0.113.7'], ['x-forwarded-proto', 'https'], ['x-forwarded-host', 'api.example.com']],
      });
      expect(res.json().headers).toMatchObject({
        'x-forwarded-for': '203.0.113.7, 127.0.0.1',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'api.example.com',
      });
    } finally {
      await stack.close();
    }
  });
});
