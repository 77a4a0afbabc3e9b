import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawResponse, rawExchange } from '../../../test/support/raw-http.js';
import { listen } from '../src/server.js';
import { type TestAuth, createPat, createTestAuth, login } from './harness.js';

/**
 * What node:http would answer by itself (an empty 400, 431 or 417) or not at all (CONNECT), answered by
 * the auth server in the project's shape, with helmet's headers and a request id. Real server, real socket.
 */
let t: TestAuth;
let server: Server;
let url: string;
let host: string;
let patKey: string;

beforeAll(async () => {
  t = await createTestAuth('pglite');
  patKey = (await createPat(t.app, await login(t.app))).key;
  ({ server, url } = await listen(t.app, 0, '127.0.0.1'));
  host = new URL(url).host;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.close();
});

function expectErrorShape(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['content-security-policy']).toBeDefined();
  const body = res.json();
  expect(body).toEqual({ code, message: expect.any(String), requestId: expect.any(String) });
  expect(res.headers['x-request-id']).toBe(body.requestId);
}

async function one(request: string): Promise<RawResponse> {
  const answers = await rawExchange(url, request);
  expect(answers).toHaveLength(1);
  return answers[0]!;
}

/** A form exchange of the test PAT, with `head` (ending in CRLF) as its request line and extra fields. */
function tokenRequest(head: string): string {
  const body = `pat=${patKey}`;
  return `${head}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
}

describe('requests node:http would answer by itself', () => {
  it('a request line that does not parse: 400 invalid_request', async () => {
    expectErrorShape(await one('GARBAGE\r\n\r\n'), 400, 'invalid_request');
  });

  it('headers over the limit: 431 headers_too_large', async () => {
    expectErrorShape(await one(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`), 431, 'headers_too_large');
  });

  it('CONNECT: 400 and the connection closed', async () => {
    const res = await one('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expectErrorShape(res, 400, 'invalid_request');
    expect(res.headers.connection).toBe('close');
  });

  it('a token request with two Host headers: 400, no session, the connection closed', async () => {
    const res = await one(tokenRequest(`POST /auth/v1/token HTTP/1.1\r\nHost: ${host}\r\nHost: other.example\r\n`));
    expectErrorShape(res, 400, 'invalid_request');
    expect(res.json().message).toBe('Send exactly one Host header');
    expect(res.headers.connection).toBe('close');
    // Logged like any request: its access line has the answer's request id and status.
    const id = res.json().requestId as string;
    expect(t.logs.some((line) => line.includes(`"req":{"id":"${id}"`) && line.includes('"res":{"status":400}'))).toBe(true);
  });

  it('HTTP/1.1 without Host: 400 in the error shape; HTTP/1.0 without Host is served (200)', async () => {
    const res = await one(tokenRequest('POST /auth/v1/token HTTP/1.1\r\n'));
    expectErrorShape(res, 400, 'invalid_request');
    expect(res.headers.connection).toBe('close');

    const old = await one(tokenRequest('POST /auth/v1/token HTTP/1.0\r\n'));
    expect(old.status).toBe(200);
    expect(old.json().access_token).toEqual(expect.any(String));
  });

  it('an Expect other than 100-continue is ignored: the exchange is served (200)', async () => {
    const res = await one(tokenRequest(`POST /auth/v1/token HTTP/1.1\r\nHost: ${host}\r\nExpect: banana\r\n`));
    expect(res.status).toBe(200);
    expect(res.json().access_token).toEqual(expect.any(String));
  });
});
