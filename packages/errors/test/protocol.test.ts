import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange } from '../../../test/support/raw-http.js';
import { type ErrorRenderer, createHttpServer, hostProblem } from '../src/index.js';

/** A renderer that says what it was given, so each test sees which code, message and request it got. */
const render: ErrorRenderer = (code, message, req) => {
  const body = JSON.stringify({ code, message, requestId: req === undefined ? 'none' : `for ${req.method} ${req.url}` });
  return { status: code === 'headers_too_large' ? 431 : code === 'request_timeout' ? 408 : 400, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, body };
};

describe('createHttpServer', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      res.setHeader('connection', 'close');
      res.end(`served ${req.method} ${req.url} expect=${req.headers.expect ?? ''}`);
    }, render);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('renders a request that does not parse (no request to hand the renderer)', async () => {
    const [res] = await rawExchange(url, 'NOT HTTP\r\n\r\n');
    expect(res?.status).toBe(400);
    expect(res?.json()).toEqual({ code: 'invalid_request', message: 'Malformed HTTP request', requestId: 'none' });
    expect(res?.headers.connection).toBe('close');
  });

  it('renders headers over the limit as headers_too_large', async () => {
    const [res] = await rawExchange(url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(res?.json()).toMatchObject({ code: 'headers_too_large' });
  });

  it("renders node:http's request timeout as request_timeout", async () => {
    // The timeout itself needs real time to pass; the error node:http emits for it is what this maps.
    const arrived = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const exchange = rawExchange(url, 'GET / HTTP/1.1\r\n');
    const socket = await arrived;
    server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    const [res] = await exchange;
    expect(res?.status).toBe(408);
    expect(res?.json()).toMatchObject({ code: 'request_timeout' });
  });

  it('answers CONNECT, rendered for that request, and closes the connection', async () => {
    const [res] = await rawExchange(url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(res?.json()).toEqual({
      code: 'invalid_request',
      message: 'CONNECT is not supported: this is not a forward proxy',
      requestId: 'for CONNECT example.com:443',
    });
    expect(res?.headers.connection).toBe('close');
  });

  it('serves a request whose Expect it does not know, instead of an empty 417', async () => {
    const [res] = await rawExchange(url, 'POST /x HTTP/1.1\r\nHost: x\r\nExpect: banana\r\nContent-Length: 0\r\n\r\n');
    expect(res?.status).toBe(200);
    expect(res?.body).toBe('served POST /x expect=banana');
  });

  it('leaves the Host checks to the listener: HTTP/1.1 without Host reaches it', async () => {
    const [res] = await rawExchange(url, 'GET /no-host HTTP/1.1\r\n\r\n');
    expect(res?.body).toBe('served GET /no-host expect=');
  });
});

describe('hostProblem', () => {
  const req = (rawHeaders: string[], httpVersion = '1.1') => ({ rawHeaders, httpVersion }) as unknown as IncomingMessage;

  it.each([
    ['one Host', ['Host', 'a'], '1.1', undefined],
    ['one Host, any spelling, among others', ['Accept', '*/*', 'hOsT', 'a', 'X-Host', 'b'], '1.1', undefined],
    ['two Hosts', ['Host', 'a', 'host', 'b'], '1.1', 'Send exactly one Host header'],
    ['two Hosts on HTTP/1.0', ['Host', 'a', 'Host', 'a'], '1.0', 'Send exactly one Host header'],
    ['no Host on HTTP/1.1', ['Accept', '*/*'], '1.1', 'An HTTP/1.1 request needs a Host header'],
    ['no Host on HTTP/1.0', [], '1.0', undefined],
  ])('%s', (_name, rawHeaders, version, problem) => {
    expect(hostProblem(req(rawHeaders, version))).toBe(problem);
  });
});
