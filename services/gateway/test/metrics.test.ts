import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, call, closedPort } from '../../../test/support/gateway-harness.js';
import { type TestStack, startStack } from './helpers.js';

describe('GET /metrics (gateway)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    const down = await closedPort();
    stack = await startStack({
      routes: `
routes:
  - prefix: /down
    upstream: http://127.0.0.1:${down}
  - prefix: /
    upstream: "{{upstream}}"
`,
    });
  });
  afterAll(() => stack.close());

  it('counts requests by route and status, upstream failures, rejections, JWKS fetches and the revocation set', async () => {
    const token = stack.auth.token();
    expect((await call(stack.url, '/a', { headers: bearer(token) })).status).toBe(200);
    expect((await call(stack.url, '/b', { headers: bearer(token) })).status).toBe(200);
    expect((await call(stack.url, '/a')).status).toBe(401);
    expect((await call(stack.url, '/down', { headers: bearer(token) })).status).toBe(502);
    await stack.bus.revoke([{ kind: 'session', id: 'jti-x', revokedAt: stack.clock.ms, until: stack.clock.ms + 60_000 }]);

    const res = await call(stack.url, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body.toString();
    expect(text).toMatch(/portcullis_gateway_requests_total\{route="\/",status="200"\} 2/);
    expect(text).toMatch(/portcullis_gateway_requests_total\{route="gateway",status="401"\} 1/);
    expect(text).toMatch(/portcullis_gateway_requests_total\{route="\/down",status="502"\} 1/);
    expect(text).toMatch(/portcullis_gateway_upstream_errors_total\{route="\/down",kind="refused"\} 1/);
    expect(text).toMatch(/portcullis_gateway_upstream_latency_seconds_count\{route="\/"\} 2/);
    expect(text).toMatch(/portcullis_gateway_jwks_refreshes_total\{result="ok"\} [1-9]/);
    expect(text).toMatch(/portcullis_gateway_revocation_entries 1/);
    expect(text).toMatch(/portcullis_gateway_revocation_sync_age_seconds \d/);
    // The in-process bus hands the set one snapshot at start; the revoke above came as entries.
    expect(text).toMatch(/portcullis_gateway_revocation_snapshots_total 1\n/);
    expect(text).not.toContain(token);
  });
});
