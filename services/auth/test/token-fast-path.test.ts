import { type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createVerifier, parseJwks } from '@portcullis/jwt';
import helmet from 'helmet';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessLines } from '../src/http/access-log.js';
import { createAuthMetrics } from '../src/http/metrics.js';
import { TOKEN_PATH, headersSetBy, tokenFastPath } from '../src/http/token-fast-path.js';
import { ADMIN, type TestAuth, createPat, createTestAuth, login } from './harness.js';

/**
 * The token endpoint has two ways in: the fast path (the common shape, straight from node:http) and the
 * express route (every other shape). A query string sends a request to express, so each case below is
 * sent both ways and must get the same answer. The fast path's one visible difference, no ETag, tells
 * which way a request went.
 */
describe('the token endpoint fast path', () => {
  let t: TestAuth;
  let patKey: string;
  let nextIp = 0;

  let server: Server;

  beforeAll(async () => {
    t = await createTestAuth('pglite');
    patKey = (await createPat(t.app, await login(t.app), { permissions: ['builds:read'] })).key;
    server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await t.close();
  });

  /** A fresh client address per request (the app trusts loopback), so failures never reach the IP limit. */
  const post = (path: string) => request(t.app).post(path).set('X-Forwarded-For', `198.51.100.${++nextIp}`);

  // Volatile parts of an answer: its request id, the token itself, and what only express adds or varies.
  const VOLATILE_HEADERS = new Set(['date', 'etag', 'x-request-id', 'content-length', 'connection', 'keep-alive']);
  function comparable(res: request.Response): { status: number; headers: Record<string, unknown>; body: unknown } {
    const headers = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !VOLATILE_HEADERS.has(name)));
    const body = { ...(res.body as Record<string, unknown>) };
    if (typeof body.requestId === 'string') body.requestId = '<id>';
    if (typeof body.access_token === 'string') body.access_token = '<jwt>';
    return { status: res.status, headers, body };
  }

  const cases: { name: string; type: string; body: string | (() => string); app?: string }[] = [
    { name: 'a PAT as a form', type: 'application/x-www-form-urlencoded', body: () => `pat=${patKey}` },
    { name: 'a PAT as JSON', type: 'application/json', body: () => JSON.stringify({ pat: patKey }) },
    { name: 'a PAT with a charset parameter', type: 'application/x-www-form-urlencoded; charset=UTF-8', body: () => `pat=${patKey}` },
    { name: 'a PAT after a byte-order mark', type: 'application/json', body: () => `\ufeff{"pat":"${patKey}"}` },
    { name: 'a PAT and a narrower scope', type: 'application/x-www-form-urlencoded', body: () => `pat=${patKey}&scope=builds%3Aread` },
    { name: 'a scope beyond the PAT', type: 'application/x-www-form-urlencoded', body: () => `pat=${patKey}&scope=admin` },
    { name: 'an application named in the body', type: 'application/x-www-form-urlencoded', body: () => `pat=${patKey}&app=ci+runner` },
    { name: 'an application named in the header', type: 'application/json', body: () => JSON.stringify({ pat: patKey }), app: 'ci-runner' },
    { name: 'a malformed application name', type: 'application/x-www-form-urlencoded', body: () => `pat=${patKey}&app=%00bad` },
    { name: 'the password grant', type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ grant_type: 'password', username: ADMIN.email, password: ADMIN.password }).toString() },
    { name: 'a wrong password', type: 'application/x-www-form-urlencoded', body: `grant_type=password&username=${encodeURIComponent(ADMIN.email)}&password=nope-nope-nope` },
    { name: 'an unknown PAT', type: 'application/x-www-form-urlencoded', body: 'pat=pcl_garbage' },
    { name: 'an unsupported grant', type: 'application/x-www-form-urlencoded', body: 'grant_type=magic' },
    { name: 'token exchange without a token type', type: 'application/x-www-form-urlencoded', body: () => `grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=${patKey}` },
    { name: 'no parameters', type: 'application/x-www-form-urlencoded', body: 'x=1' },
    { name: 'a repeated field', type: 'application/x-www-form-urlencoded', body: 'pat=a&pat=b' },
    { name: 'bracketed names', type: 'application/x-www-form-urlencoded', body: 'pat[x]=1&scope[]=a' },
    { name: 'empty pairs and bare names', type: 'application/x-www-form-urlencoded', body: '&&=x&pat' },
    { name: 'broken percent-encoding', type: 'application/x-www-form-urlencoded', body: 'pat=%ZZ%FF%' },
    { name: '32 parameters', type: 'application/x-www-form-urlencoded', body: Array.from({ length: 32 }, (_, i) => `f${i}=1`).join('&') },
    { name: '33 parameters', type: 'application/x-www-form-urlencoded', body: Array.from({ length: 33 }, (_, i) => `f${i}=1`).join('&') },
    { name: 'truncated JSON', type: 'application/json', body: '{"pat":' },
    { name: 'a JSON array', type: 'application/json', body: '[1,2]' },
    { name: 'a JSON string', type: 'application/json', body: '"pat"' },
    { name: 'JSON null after whitespace', type: 'application/json', body: ' \n null' },
    { name: 'only whitespace as JSON', type: 'application/json', body: '   ' },
    { name: 'a number where a string belongs', type: 'application/json', body: '{"pat":42}' },
    { name: 'an empty JSON object', type: 'application/json', body: '{}' },
  ];

  it.each(cases)('answers $name the same both ways', async ({ type, body, app }) => {
    const text = typeof body === 'function' ? body() : body;
    const send = (path: string) => {
      const req = post(path).set('Content-Type', type);
      if (app !== undefined) req.set('X-App-Name', app);
      return req.send(text);
    };
    const fast = await send(TOKEN_PATH);
    const slow = await send(`${TOKEN_PATH}?via=express`);
    expect(fast.headers.etag, 'the fast path sends no ETag').toBeUndefined();
    expect(slow.headers.etag, 'express sends an ETag').toEqual(expect.any(String));
    expect(comparable(fast)).toEqual(comparable(slow));
    expect(fast.status).toBeLessThan(500);
    if (fast.body.requestId !== undefined) expect(fast.body.requestId).toBe(fast.headers['x-request-id']);
  });

  it('issues a working session, with helmet headers, no-store, and an id that echoes a well-formed one', async () => {
    const res = await post(TOKEN_PATH).type('form').set('X-Request-Id', 'client-req-7').send({ pat: patKey }).expect(200);
    expect(res.headers).toMatchObject({
      'x-request-id': 'client-req-7',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'content-type': 'application/json; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'content-security-policy': expect.stringContaining("default-src 'self'"),
      'strict-transport-security': expect.any(String),
    });
    expect(res.headers.etag).toBeUndefined();
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'builds:read', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    const keys = parseJwks((await request(t.app).get('/.well-known/jwks.json')).body);
    const verified = createVerifier({ issuer: 'http://auth.test', audience: 'portcullis', keyFor: (kid) => keys.get(kid) })(res.body.access_token as string);
    expect(verified).toMatchObject({ ok: true, claims: { scope: 'builds:read' } });
    const replaced = await post(TOKEN_PATH).type('form').set('X-Request-Id', 'bad id with spaces').send({ pat: patKey });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  /** A POST over node:http itself, for bodies supertest would re-encode (compressed, chunked). */
  function rawPost(headers: Record<string, string>, chunks: (string | Buffer)[]): Promise<{ status: number; etag: string | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: TOKEN_PATH, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag, body }));
      });
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  }

  it('leaves other shapes to express, which still serves them', async () => {
    const latin1 = await post(TOKEN_PATH).set('Content-Type', 'application/x-www-form-urlencoded; charset=iso-8859-1').send(`pat=${patKey}`);
    const slash = await post(`${TOKEN_PATH}/`).type('form').send({ pat: patKey });
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const zipped = gzipSync(`pat=${patKey}`);
    const gzipped = await rawPost({ ...form, 'Content-Encoding': 'gzip', 'Content-Length': String(zipped.length) }, [zipped]);
    const chunked = await rawPost({ 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, [`{"pat":"${patKey.slice(0, 10)}`, `${patKey.slice(10)}"}`]);
    const viaSupertest = [latin1, slash].map((res) => ({ status: res.status, etag: res.headers.etag }));
    for (const res of [...viaSupertest, gzipped, chunked]) expect(res).toMatchObject({ status: 200, etag: expect.any(String) });
    // Not the token route's shape at all: express's 415 and 413, and 405 for another method.
    expect((await post(TOKEN_PATH).set('Content-Type', 'text/plain').send(`pat=${patKey}`)).status).toBe(415);
    expect((await post(TOKEN_PATH).type('form').send(`pat=${'a'.repeat(20_000)}`)).body.error).toBe('payload_too_large');
    const get = await request(t.app).get(TOKEN_PATH);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
  });

  it('logs a client that hangs up mid-body as aborted, and keeps serving', async () => {
    const { port } = server.address() as AddressInfo;
    const before = t.logs.length;
    const arrived = new Promise((resolve) => server.once('request', resolve));
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST ${TOKEN_PATH} HTTP/1.1\r\nHost: x\r\nX-Request-Id: cut-short\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\npat=${patKey.slice(0, 8)}`);
    await arrived; // the fast path is reading the body, which never comes
    socket.destroy();
    await vi.waitFor(() => {
      const line = t.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => (l.req as { id?: string } | undefined)?.id === 'cut-short');
      expect(line).toMatchObject({ msg: 'request aborted', level: 40, route: TOKEN_PATH });
    });
    expect(t.logs.slice(before).join('\n')).not.toContain(patKey.slice(0, 8));
    await post(TOKEN_PATH).type('form').send({ pat: patKey }).expect(200);
  });

  it('counts its requests in the metrics and writes one access line each, with no credential', async () => {
    const before = t.logs.length;
    await post(TOKEN_PATH).type('form').set('X-Request-Id', 'metered-1').send({ pat: patKey }).expect(200);
    await post(TOKEN_PATH).type('form').set('X-Request-Id', 'metered-2').send({ pat: 'pcl_garbage' }).expect(400);
    const lines = t.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'request').map((l) => [(l.req as { id: string }).id, (l.res as { status: number }).status, l.route])).toEqual([
      ['metered-1', 200, TOKEN_PATH],
      ['metered-2', 400, TOKEN_PATH],
    ]);
    expect(t.logs.slice(before).join('\n')).not.toContain(patKey);
    const metrics = (await request(t.app).get('/metrics')).text;
    const count = (status: number) => Number(new RegExp(`portcullis_auth_http_request_duration_seconds_count\\{method="POST",route="/auth/v1/token",status="${status}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count(200)).toBeGreaterThanOrEqual(1);
    expect(count(400)).toBeGreaterThanOrEqual(1);
  });
});

describe('the token endpoint fast path on an unexpected failure', () => {
  it('answers a 500 in the OAuth shape without the detail, logs it, and keeps serving', async () => {
    const logs: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    let calls = 0;
    const fastPath = tokenFastPath({
      endpoint: () => Promise.reject(new Error(`store down (call ${++calls}), detail the client must not see`)),
      trust: () => false,
      securityHeaders: ['X-Test-Security', 'on'],
      accessLine: accessLines(log),
      metrics: createAuthMetrics({ defaultMetrics: false }),
      log,
    });
    const app = (req: Parameters<typeof fastPath>[0], res: Parameters<typeof fastPath>[1]) => {
      if (!fastPath(req, res)) res.writeHead(404).end();
    };
    for (const attempt of [1, 2]) {
      const res = await request(app).post(TOKEN_PATH).type('form').set('X-Request-Id', `boom-${attempt}`).send({ pat: 'x' });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'server_error', error_description: 'Internal server error', requestId: `boom-${attempt}` });
      expect(res.headers).toMatchObject({ 'cache-control': 'no-store', 'x-test-security': 'on', 'x-request-id': `boom-${attempt}` });
    }
    expect(calls).toBe(2);
    expect(logs.filter((l) => l.msg === 'request failed' && l.requestId !== undefined).map((l) => l.requestId)).toEqual(['boom-1', 'boom-2']);
    expect(logs.find((l) => l.msg === 'request failed' && l.requestId === 'boom-1')?.err).toMatchObject({ message: expect.stringContaining('store down') });
    // Not the fast path's shape: left to the next handler.
    expect((await request(app).get(TOKEN_PATH)).status).toBe(404);
  });
});

describe('the security headers the fast path sends', () => {
  it("are helmet's own, read once; a middleware that fails or does not finish at once is refused", () => {
    const headers = headersSetBy(helmet());
    const names = headers.filter((_, i) => i % 2 === 0);
    expect(names).toEqual(expect.arrayContaining(['Content-Security-Policy', 'Strict-Transport-Security', 'X-Content-Type-Options', 'X-Frame-Options']));
    expect(headers[headers.indexOf('X-Content-Type-Options') + 1]).toBe('nosniff');
    expect(() => headersSetBy(() => undefined)).toThrow(/did not finish synchronously/);
    expect(() => headersSetBy((_req, _res, next) => next(new Error('no')))).toThrow(/failed/);
  });
});
