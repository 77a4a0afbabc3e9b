import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAuth, TEST_ISSUER, bearer, call, startFakeAuth } from './support/gateway-harness.js';
import { type ServiceProcess, spawnService } from './support/processes.js';

/**
 * An upstream behind TLS, through the real gateway process: the request reaches it with the route's path,
 * the upstream's own Host and the identity headers, and an upstream whose certificate the gateway does not
 * trust is refused (502), never used. The certificates are made for this run by openssl.
 */

/** A self-signed certificate for 127.0.0.1, written to `dir`. */
function certificate(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { key, cert };
}

/** An HTTPS echo: answers with the path and headers it received. */
async function echoOverTls(files: { key: string; cert: string }): Promise<{ server: Server; origin: string }> {
  const server = createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('a route to an HTTPS upstream', () => {
  let dir: string;
  let auth: FakeAuth;
  let trusted: Awaited<ReturnType<typeof echoOverTls>>;
  let untrusted: Awaited<ReturnType<typeof echoOverTls>>;
  let gateway: ServiceProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
    const known = certificate(dir, 'trusted-upstream');
    trusted = await echoOverTls(known);
    untrusted = await echoOverTls(certificate(dir, 'unknown-upstream'));
    auth = await startFakeAuth(() => Date.now());
    const routes = join(dir, 'routes.yaml');
    writeFileSync(routes, `routes:\n  - prefix: /tls\n    upstream: ${trusted.origin}/base\n  - prefix: /untrusted\n    upstream: ${untrusted.origin}\n`);
    // Node adds this CA to its defaults at start: the gateway trusts the first upstream, not the second.
    gateway = await spawnService('gateway', { GATEWAY_PORT: '0', AUTH_URL: auth.url, JWT_ISSUER: TEST_ISSUER, ROUTES_FILE: routes, NODE_EXTRA_CA_CERTS: known.cert });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await auth?.close();
    for (const upstream of [trusted, untrusted]) upstream?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("forwards with the upstream's path prefix, its own Host and the identity headers (200)", async () => {
    const token = auth.token({ sub: 'user-tls' });
    for (let i = 0; i < 3; i++) {
      // Several requests: the later ones go over the agent's kept-alive TLS connection.
      const res = await call(gateway.url, `/tls/items?n=${i}`, { headers: bearer(token) });
      expect(res.status).toBe(200);
      const seen = res.json() as { url: string; headers: Record<string, string> };
      expect(seen.url).toBe(`/base/tls/items?n=${i}`);
      expect(seen.headers.host).toBe(new URL(trusted.origin).host);
      expect(seen.headers['x-auth-subject']).toBe('user-tls');
      expect(seen.headers['x-request-id']).toBe(res.headers['x-request-id']);
    }
  });

  it('refuses an upstream whose certificate it does not trust (502 bad_gateway)', async () => {
    const res = await call(gateway.url, '/untrusted/items', { headers: bearer(auth.token()) });
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('bad_gateway');
  });
});
