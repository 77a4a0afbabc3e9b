import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuthHandle, loadAuthConfig, startAuth } from '@portcullis/auth';
import { createGatewayLogger, loadGatewayConfig, startGateway, type RunningGateway } from '@portcullis/gateway';
import { type SigningKey, importSigningKey } from '@portcullis/jwt';
import { MemoryRevocationBus } from '@portcullis/revocation';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EchoUpstream, bearer, call, closedPort, startEchoUpstream } from './support/gateway-harness.js';
import { attackTokens, claimsFor } from './support/forge.js';
import { tempDataDir } from './support/processes.js';

const ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' };
const ISSUER = 'http://auth.test';

/**
 * Issue 3 end to end: the real auth service and the real gateway on free ports, in one process with the
 * in-process revocation bus, and an upstream that counts what reaches it.
 */
describe('gateway in front of the real auth service', () => {
  let data: ReturnType<typeof tempDataDir>;
  let upstream: EchoUpstream;
  let auth: AuthHandle;
  let gateway: RunningGateway;
  let signingKey: SigningKey;
  let admin: string;
  const logs: string[] = [];

  beforeAll(async () => {
    data = tempDataDir();
    upstream = await startEchoUpstream();
    const bus = new MemoryRevocationBus();
    const sink = { write: (line: string) => void logs.push(line) };
    auth = await startAuth(
      loadAuthConfig({ AUTH_PORT: '0', AUTH_HOST: '127.0.0.1', DATA_DIR: data.dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, JWT_ISSUER: ISSUER, BCRYPT_COST: '4' }),
      { bus, log: pino({ level: 'info' }, sink) },
    );
    const routesFile = join(data.dir, 'routes.yaml');
    writeFileSync(
      routesFile,
      [
        'routes:',
        `  - prefix: /orders`,
        `    upstream: ${upstream.url}`,
        '    permissions: { GET: "orders:read", POST: "orders:write" }',
        `  - prefix: /slow`,
        `    upstream: ${upstream.url}`,
        '    timeout: 300ms',
        `  - prefix: /down`,
        `    upstream: http://127.0.0.1:${await closedPort()}`,
        `  - prefix: /`,
        `    upstream: ${upstream.url}`,
      ].join('\n'),
    );
    const config = loadGatewayConfig({ GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', AUTH_URL: auth.url, JWT_ISSUER: ISSUER, ROUTES_FILE: routesFile });
    gateway = await startGateway(config, { logger: createGatewayLogger({ level: 'info', patHeader: config.patHeader }, sink), revocationSource: bus.source() });
    signingKey = importSigningKey((await auth.services.store.listSigningKeys())[0]!);
    const login = await call(gateway.url, '/auth/v1/token', {
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: new URLSearchParams({ grant_type: 'password', username: ADMIN.email, password: ADMIN.password }).toString(),
    });
    admin = login.json().access_token as string;
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
    await auth?.close();
    await upstream?.close();
    data?.remove();
  });

  beforeEach(() => {
    upstream.hits = 0;
  });

  async function newPat(body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const res = await call(gateway.url, '/api/v1/api_tokens', {
      method: 'POST',
      headers: [...bearer(admin), ['content-type', 'application/json']],
      body: JSON.stringify({ name: 'e2e', ...body }),
    });
    expect(res.status).toBe(201);
    return { id: res.json().id as string, key: res.json().key as string };
  }

  async function exchange(key: string): Promise<string> {
    const res = await call(gateway.url, '/auth/v1/token', {
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded'], ['accept', 'application/json']],
      body: `pat=${encodeURIComponent(key)}`,
    });
    expect(res.status).toBe(200);
    return res.json().access_token as string;
  }

  it('exchanges a PAT through the gateway and proxies with identity headers, never the spoofed ones', async () => {
    const pat = await newPat({ permissions: ['orders:read'] });
    const session = await exchange(pat.key);
    const res = await call(gateway.url, '/orders/42?x=1', {
      headers: [...bearer(session), ['x-auth-subject', 'mallory'], ['X-Auth-Org', 'evil'], ['x-auth-token-id', 'forged'], ['x-auth-scope', '*']],
    });
    expect(res.status).toBe(200);
    const seen = res.json();
    expect(seen.url).toBe('/orders/42?x=1');
    expect(seen.headers['x-auth-token-id']).toBe(pat.id);
    expect(seen.headers['x-auth-scope']).toBe('orders:read');
    expect(seen.headers['x-auth-subject']).not.toBe('mallory');
    expect(seen.headers['x-auth-org']).not.toBe('evil');
    expect(seen.headers['x-request-id']).toEqual(expect.any(String));
    expect(seen.headers['x-forwarded-for']).toEqual(expect.any(String));
    expect(seen.headers.authorization).toBe(`Bearer ${session}`);
    expect(upstream.hits).toBe(1);
  });

  it('accepts a raw Authorization: <jwt> (Appcircle docs), a PAT as Bearer, and Kriten\'s Token header', async () => {
    const pat = await newPat();
    const session = await exchange(pat.key);
    expect((await call(gateway.url, '/things', { headers: [['authorization', session]] })).status).toBe(200);
    const viaPat = await call(gateway.url, '/things', { headers: bearer(pat.key) });
    expect(viaPat.status).toBe(200);
    expect(viaPat.json().headers.authorization).not.toContain(pat.key);
    expect((await call(gateway.url, '/things', { headers: [['token', pat.key]] })).status).toBe(200);
    expect(upstream.hits).toBe(3);
  });

  it('refuses, without calling the upstream: no token 401, malformed 400, missing permission 403', async () => {
    const none = await call(gateway.url, '/orders');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis"$/);
    // Another scheme is "no bearer credentials" (RFC 6750 §3.1: no error code); a broken Bearer header is 400.
    const basic = await call(gateway.url, '/orders', { headers: [['authorization', 'Basic dXNlcjpwYXNz']] });
    expect(basic.status).toBe(401);
    expect(basic.headers['www-authenticate']).not.toContain('error=');
    const malformed = await call(gateway.url, '/orders', { headers: [['authorization', 'Bearer two words']] });
    expect(malformed.status).toBe(400);
    expect(malformed.json()).toMatchObject({ code: 'invalid_request', requestId: expect.any(String) });
    const reader = await exchange((await newPat({ permissions: ['orders:read'] })).key);
    const write = await call(gateway.url, '/orders', { method: 'POST', headers: bearer(reader), body: '{}' });
    expect(write.status).toBe(403);
    expect(write.json().code).toBe('insufficient_scope');
    expect(write.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(upstream.hits).toBe(0);
  });

  it('rejects every forged, tampered, expired or foreign token with 401 invalid_token, upstream untouched', async () => {
    const attacks = attackTokens(signingKey, claimsFor({ iss: ISSUER }));
    for (const [name, token] of Object.entries(attacks)) {
      const res = await call(gateway.url, '/things', { headers: bearer(token) });
      expect([400, 401], name).toContain(res.status);
      if (res.status === 401) expect(res.headers['www-authenticate'], name).toContain('error="invalid_token"');
    }
    expect(upstream.hits).toBe(0);
  });

  it('a read_only user\'s token may GET but not POST through the gateway', async () => {
    const created = await call(gateway.url, '/api/v1/users', {
      method: 'POST',
      headers: [...bearer(admin), ['content-type', 'application/json']],
      body: JSON.stringify({ email: 'reader@example.test', password: 'reader password 123', role: 'read_only' }),
    });
    expect(created.status).toBe(201);
    const login = await call(gateway.url, '/auth/v1/token', {
      method: 'POST',
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: new URLSearchParams({ grant_type: 'password', username: 'reader@example.test', password: 'reader password 123' }).toString(),
    });
    const reader = login.json().access_token as string;
    expect((await call(gateway.url, '/things', { headers: bearer(reader) })).status).toBe(200);
    const post = await call(gateway.url, '/things', { method: 'POST', headers: bearer(reader), body: 'x' });
    expect(post.status).toBe(403);
    expect(upstream.hits).toBe(1);
  });

  it('a revoked PAT stops at the gateway at once (in-process bus)', async () => {
    const pat = await newPat();
    const session = await exchange(pat.key);
    expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(200);
    const off = await call(gateway.url, `/api/v1/api_tokens/${pat.id}`, {
      method: 'PATCH',
      headers: [...bearer(admin), ['content-type', 'application/json']],
      body: JSON.stringify({ enabled: false }),
    });
    expect(off.status).toBe(200);
    expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(401);
    expect((await call(gateway.url, '/things', { headers: bearer(pat.key) })).status).toBe(401);
  });

  it('answers 502 when the upstream refuses and 504 when it is too slow, and keeps serving', async () => {
    const session = await exchange((await newPat()).key);
    const down = await call(gateway.url, '/down', { headers: bearer(session) });
    expect(down.status).toBe(502);
    expect(down.json()).toMatchObject({ code: 'bad_gateway', requestId: expect.any(String) });
    const slow = await call(gateway.url, '/slow', { headers: bearer(session) });
    expect(slow.status).toBe(504);
    expect(slow.json().code).toBe('gateway_timeout');
    expect((await call(gateway.url, '/things', { headers: bearer(session) })).status).toBe(200);
  });

  it('streams a multi-megabyte body both ways', async () => {
    const session = await exchange((await newPat()).key);
    const upload = Buffer.alloc(8 * 1024 * 1024, 0x62);
    const up = await call(gateway.url, '/upload', { method: 'POST', headers: [...bearer(session), ['content-type', 'application/octet-stream']], body: upload });
    expect(up.status).toBe(200);
    expect(up.json().bodyLength).toBe(upload.length);
    const down = await call(gateway.url, `/download/${12 * 1024 * 1024}`, { headers: bearer(session) });
    expect(down.status).toBe(200);
    expect(down.body.length).toBe(12 * 1024 * 1024);
  });

  it('proxies a WebSocket upgrade once the token checks out, and refuses one without a token', async () => {
    const session = await exchange((await newPat()).key);
    const wsUrl = gateway.url.replace('http', 'ws');
    const greeting = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
      const socket = new WebSocket(`${wsUrl}/live`, { headers: { authorization: `Bearer ${session}` } });
      socket.once('message', (data: Buffer) => {
        socket.close();
        resolve(JSON.parse(data.toString()) as { headers: Record<string, string> });
      });
      socket.once('error', reject);
    });
    expect(greeting.headers['x-auth-scope']).toBe('*');
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${wsUrl}/live`);
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.once('open', () => resolve(101));
    });
    expect(refused).toBe(401);
    expect(upstream.hits).toBe(1);
  });

  it('never writes a PAT, JWT or password to the logs of the whole flow', async () => {
    const pat = await newPat();
    const session = await exchange(pat.key);
    await call(gateway.url, '/things', { headers: bearer(session) });
    await call(gateway.url, '/things', { headers: bearer(pat.key) });
    await call(gateway.url, '/things', { headers: bearer('garbage.token.here') });
    const all = logs.join('\n');
    // One access line per request at the gateway, with the token id and subject, never the credential.
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const proxied = lines.filter((l) => l.name === 'gateway' && l.msg === 'request' && l.tokenId === pat.id);
    expect(proxied).toHaveLength(2);
    expect(proxied[0]).toMatchObject({ route: '/', status: 200, method: 'GET', requestId: expect.any(String), ms: expect.any(Number), subject: expect.any(String) });
    expect(lines.some((l) => l.name === 'gateway' && l.msg === 'request' && l.route === 'gateway' && l.status === 401)).toBe(true);
    for (const secret of [pat.key, session, admin, ADMIN.password, session.split('.')[2]!]) expect(all).not.toContain(secret);
  });
});
