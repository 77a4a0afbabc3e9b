import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EchoUpstream, bearer, call, passwordSession, startEchoUpstream } from './support/gateway-harness.js';
import { type ServiceProcess, TEST_ADMIN, runToExit, spawnAuth, spawnService, tempDataDir } from './support/processes.js';

describe('process lifecycle', () => {
  let data: ReturnType<typeof tempDataDir>;
  let upstream: EchoUpstream;
  let auth: ServiceProcess;

  beforeAll(async () => {
    data = tempDataDir();
    upstream = await startEchoUpstream();
    auth = await spawnAuth(data.dir);
  }, 60_000);

  afterAll(async () => {
    await auth?.stop();
    await upstream?.close();
    data?.remove();
  });

  it('SIGTERM during a slow proxied request: the request completes, then the gateway exits 0', async () => {
    const gateway = await spawnService('gateway', { GATEWAY_PORT: '0', AUTH_URL: auth.url, UPSTREAM_URL: upstream.url, SHUTDOWN_GRACE: '20s' });
    const session = await passwordSession(auth.url, TEST_ADMIN.email, TEST_ADMIN.password);

    const held = upstream.nextHold();
    const inFlight = call(gateway.url, '/hold', { headers: bearer(session) });
    await held;
    const exited = gateway.stop();
    // Once the signal is handled the gateway accepts no new connection, while the held request stays open.
    await vi.waitFor(() => expect(call(gateway.url, '/things', { headers: bearer(session) })).rejects.toThrow(), { timeout: 10_000, interval: 20 });
    upstream.release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('released');
    expect(await exited).toBe(0);
  });

  it('SIGTERM stops auth cleanly (exit 0), closing PGlite so the data folder opens again', async () => {
    const second = tempDataDir();
    try {
      const first = await spawnAuth(second.dir);
      expect(await first.stop()).toBe(0);
      const again = await spawnAuth(second.dir);
      expect(await passwordSession(again.url, TEST_ADMIN.email, TEST_ADMIN.password)).toEqual(expect.any(String)); // throws unless 200
      expect(again.output.join('\n')).not.toContain('First admin created');
      expect(await again.stop()).toBe(0);
    } finally {
      second.remove();
    }
  });

  it('refuses to start on bad configuration, naming every problem at once', async () => {
    const authRun = await runToExit('auth', { AUTH_PORT: '99999', SESSION_TTL: 'soon', DATABASE_URL: 'mysql://x', BCRYPT_COST: '99' });
    expect(authRun.code).not.toBe(0);
    for (const name of ['AUTH_PORT', 'SESSION_TTL', 'DATABASE_URL', 'BCRYPT_COST']) expect(authRun.stderr).toContain(name);

    const routes = join(data.dir, 'bad-routes.yaml');
    writeFileSync(routes, 'routes:\n  - prefix: api\n    upstream: ftp://x\n  - prefix: /b\n    upstream: http://b\n    colour: red\n');
    const gatewayRun = await runToExit('gateway', { GATEWAY_PORT: 'eighty', REVOCATION_STALENESS: 'x', ROUTES_FILE: routes });
    expect(gatewayRun.code).not.toBe(0);
    for (const text of ['GATEWAY_PORT', 'REVOCATION_STALENESS', 'routes.0.prefix', 'routes.0.upstream', 'routes.1']) expect(gatewayRun.stderr).toContain(text);
  });
});
