import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, call, closedPort } from '../../../test/support/gateway-harness.js';
import { rawExchange } from '../../../test/support/raw-http.js';
import { redactPaths } from '../src/logger.js';
import { type TestStack, startStack } from './helpers.js';

const MB = 1024 * 1024;
const logLines: string[] = [];

let stack: TestStack;
beforeAll(async () => {
  const down = await closedPort();
  const routes = `
routes:
  - prefix: /svc
    upstream: "{{upstream}}"
    rewrite: /
  - prefix: /svc/v2
    upstream: "{{upstream}}/base"
    rewrite: /two
  - prefix: /public
    upstream: "{{upstream}}"
    auth: false
  - prefix: /no-auth-header
    upstream: "{{upstream}}"
    forwardAuthorization: false
  - prefix: /keep-host
    upstream: "{{upstream}}"
    preserveHost: true
  - prefix: /down
    upstream: http://127.0.0.1:${down}
  - prefix: /slow
    upstream: "{{upstream}}"
    timeout: 200ms
  - prefix: /
    upstream: "{{upstream}}"
`;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: redactPaths('token'), censor: '[redacted]' } }, sink);
  stack = await startStack({ routes, logger });
});
afterAll(async () => {
  await stack.close();
});

function get(path: string, extra: [string, string][] = []) {
  return call(stack.url, path, { headers: [...bearer(stack.auth.token()), ...extra] });
}

describe('routing', () => {
  it('sends a path to the route with the longest matching prefix, rewriting it (200)', async () => {
    expect((await get('/svc/items?q=1')).json().url).toBe('/items?q=1');
    expect((await get('/svc')).json().url).toBe('/');
    expect((await get('/svc/v2/items')).json().url).toBe('/base/two/items');
    expect((await get('/svcx')).json().url).toBe('/svcx');
  });

  it('routes on the normalised path and forwards exactly that path (200)', async () => {
    expect((await get('//svc//items')).json().url).toBe('/items');
    expect((await get('/%73vc/items')).json().url).toBe('/items');
    expect((await get('/SVC/items')).json().url).toBe('/items');
  });

  it.each(['/public/../svc', '/public/%2e%2e/svc', '/public/.%2E/svc', '/a\\..\\b', '/x%zz', '/public/..%2Fsvc', '/public/a%00.json'])(
    'refuses the ambiguous or hostile path %s (400 invalid_request)',
    async (path) => {
      const before = stack.upstream.hits;
      const res = await call(stack.url, path);
      expect(res.status).toBe(400);
      expect(res.json().code).toBe('invalid_request');
      expect(stack.upstream.hits).toBe(before);
    },
  );

  it('passes public routes without a token, still removing identity headers (200)', async () => {
    const res = await call(stack.url, '/public/page', { headers: [['x-auth-subject', 'admin'], ['x-auth-org', 'o']] });
    expect(res.status).toBe(200);
    expect(res.json().headers).not.toHaveProperty('x-auth-subject');
    expect(res.json().headers).not.toHaveProperty('x-auth-org');
  });

  it('keeps Authorization from upstreams on routes that say so (200)', async () => {
    const res = await get('/no-auth-header/x');
    expect(res.status).toBe(200);
    expect(res.json().headers).not.toHaveProperty('authorization');
    expect(res.json().headers['x-auth-subject']).toBe('user-1');
  });
});

describe('the auth service behind the gateway', () => {
  it('passes /auth/v1 and /.well-known without a token (200)', async () => {
    const before = stack.auth.otherHits;
    expect((await call(stack.url, '/auth/v1/revoke', { method: 'POST', body: 'token=x' })).json()).toMatchObject({ service: 'auth' });
    expect(stack.auth.otherHits).toBe(before + 1);
    const jwks = await call(stack.url, '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.json().keys[0].kid).toBe(stack.auth.signingKey.kid);
  });

  it('requires a token on /api/v1 and forwards it (401, then 200)', async () => {
    expect((await call(stack.url, '/api/v1/api_tokens')).status).toBe(401);
    const token = stack.auth.token({ sub: 'api-user' });
    const res = await call(stack.url, '/api/v1/api_tokens', { headers: bearer(token) });
    expect(res.json()).toMatchObject({ service: 'auth', url: '/api/v1/api_tokens' });
    expect(res.json().headers).toMatchObject({ authorization: `Bearer ${token}`, 'x-auth-subject': 'api-user' });
  });
});

describe('forwarding', () => {
  it('replaces X-Forwarded-* the client claimed, sets a request id and echoes it back (200)', async () => {
    const res = await get('/fwd', [['x-forwarded-for', '6.6.6.6'], ['x-forwarded-proto', 'https'], ['forwarded', 'for=6.6.6.6']]);
    const headers = res.json().headers;
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(new URL(stack.url).host);
    expect(headers).not.toHaveProperty('forwarded');
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).toBe(headers['x-request-id']);
  });

  it("keeps a sane client request id and replaces a strange one (200)", async () => {
    expect((await get('/rid', [['x-request-id', 'trace-42.a:b']])).json().headers['x-request-id']).toBe('trace-42.a:b');
    expect((await get('/rid', [['x-request-id', 'has spaces']])).json().headers['x-request-id']).not.toBe('has spaces');
  });

  it('streams a multi-megabyte upload and download through (200)', async () => {
    const upload = await call(stack.url, '/upload', {
      method: 'POST',
      headers: [...bearer(stack.auth.token()), ['content-type', 'application/octet-stream']],
      body: Buffer.alloc(8 * MB, 1),
    });
    expect(upload.status).toBe(200);
    expect(upload.json().bodyLength).toBe(8 * MB);
    const download = await get(`/download/${12 * MB}`);
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(12 * MB);
  });

  it("sends the upstream's own Host unless the route preserves the client's (200)", async () => {
    const gatewayHost = new URL(stack.url).host;
    expect((await get('/host')).json().headers.host).toBe(new URL(stack.upstream.url).host);
    expect((await get('/keep-host')).json().headers.host).toBe(gatewayHost);
  });

  it("HTTP/1.0 without Host on a route that preserves the client's Host: the upstream gets its own (200)", async () => {
    const answers = await rawExchange(stack.url, `GET /keep-host HTTP/1.0\r\nAuthorization: Bearer ${stack.auth.token()}\r\n\r\n`);
    expect(answers.map((a) => a.status)).toEqual([200]);
    expect(answers[0]!.json().headers.host).toBe(new URL(stack.upstream.url).host);
  });

  it('forwards a field node:http keeps as a list as the separate lines it came in (200)', async () => {
    const res = await get('/lines', [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    expect(res.json().headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('drops hop-by-hop headers, so no proxy behind the gateway can drop the identity headers (200)', async () => {
    const res = await get('/hop', [['connection', 'x-auth-subject, keep-alive'], ['keep-alive', 'timeout=5']]);
    const headers = res.json().headers;
    expect(headers.connection).not.toMatch(/x-auth-subject/);
    expect(headers).not.toHaveProperty('keep-alive');
    expect(headers['x-auth-subject']).toBe('user-1');
  });

  it('passes upstream responses unchanged: no helmet headers added (200)', async () => {
    const res = await get('/plain');
    expect(res.headers['x-upstream']).toBe('echo');
    expect(res.headers).not.toHaveProperty('content-security-policy');
  });
});

describe('upstream failures', () => {
  it('answers 502 in the JSON error shape when the upstream refuses, and keeps serving', async () => {
    const res = await get('/down/x');
    expect(res.status).toBe(502);
    expect(res.json()).toEqual({ code: 'bad_gateway', message: 'The upstream service could not be reached', requestId: res.headers['x-request-id'] });
    expect((await get('/still-up')).status).toBe(200);
  });

  it('answers 502 when the upstream resets the connection', async () => {
    const res = await get('/reset');
    expect(res.status).toBe(502);
    expect(res.json().code).toBe('bad_gateway');
  });

  it("answers 504 when the upstream is slower than the route's timeout", async () => {
    const res = await get('/slow');
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ code: 'gateway_timeout', message: 'The upstream service did not answer in time' });
    expect((await get('/still-up')).status).toBe(200);
  });
});

describe("the gateway's own endpoints", () => {
  it('GET /healthz answers 200 with helmet headers', async () => {
    const res = await call(stack.url, '/healthz');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers).toHaveProperty('content-security-policy');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('GET /readyz answers 200 once the key set is loaded and revocations are fresh', async () => {
    const res = await call(stack.url, '/readyz');
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { jwks: 'ok', revocation: 'ok' } });
  });

  it('gives error answers helmet headers too (401)', async () => {
    const res = await call(stack.url, '/anything');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('logs', () => {
  it('never contain a token or a PAT', async () => {
    const token = stack.auth.token();
    const pat = stack.auth.registerPat();
    await call(stack.url, '/down/x', { headers: bearer(token) });
    await call(stack.url, '/down/y', { headers: bearer(pat) });
    await call(stack.url, '/x', { headers: [['token', pat]] });
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('');
    expect(all).not.toContain(token);
    expect(all).not.toContain(pat);
    expect(all).not.toContain(token.split('.')[2]);
  });
});
