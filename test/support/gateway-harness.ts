import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type SessionClaims,
  type SigningKey,
  generateSigningKey,
  signSessionToken,
  toJwks,
} from '@portcullis/jwt';
import { generatePat } from '@portcullis/token';
import { WebSocketServer } from 'ws';
import { claimsFor } from './forge.js';

/** Servers on real sockets for the gateway's tests: a fake auth service and an echo upstream. */

export const TEST_ISSUER = 'http://auth.test';
export const TEST_AUDIENCE = 'portcullis';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bound by the OS a moment ago, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await listen(server);
  const { port } = server.address() as AddressInfo;
  await close(server);
  return port;
}

export interface EchoReply {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyLength: number;
}

export interface EchoUpstream {
  readonly url: string;
  /** Requests (and WebSocket upgrades) that reached the upstream. */
  hits: number;
  /** Resolves when the next `/hold` request arrives; it is answered only on `release()`. */
  nextHold(): Promise<void>;
  /** Answers every held request (200). */
  release(): void;
  close(): Promise<void>;
}

/**
 * The upstream: answers every request with what it received (method, url, headers, body length), and:
 * `/download/<bytes>` streams that many bytes; `/slow` never answers; `/reset` drops the connection;
 * `/hold` answers when the test says so. WebSocket upgrades are accepted and greet with the headers
 * they came with, then echo every message.
 */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const state = { hits: 0 };
  const held: (() => void)[] = [];
  let onHold: (() => void) | undefined;
  const server = createServer((req, res) => {
    state.hits += 1;
    if (req.url === '/hold') {
      req.resume();
      held.push(() => res.end('released'));
      onHold?.();
      return;
    }
    const download = /^\/download\/(\d+)$/.exec(req.url ?? '');
    if (download) {
      req.resume();
      let left = Number(download[1]);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
      const pump = (): void => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    if (req.url === '/slow') return void req.resume();
    if (req.url === '/reset') return void req.socket.destroy();
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => (bodyLength += chunk.length));
    req.on('end', () => {
      const reply: EchoReply = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyLength };
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'echo' });
      res.end(JSON.stringify(reply));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req: IncomingMessage) => {
    state.hits += 1;
    socket.send(JSON.stringify({ url: req.url, headers: req.headers }));
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  const url = await listen(server);
  return {
    url,
    get hits() {
      return state.hits;
    },
    set hits(value: number) {
      state.hits = value;
    },
    nextHold: () => new Promise<void>((resolve) => (onHold = resolve)),
    release() {
      for (const answer of held.splice(0)) answer();
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await close(server);
    },
  };
}

export interface FakeAuth {
  url: string;
  /** Keys published in the JWKS; tokens are signed with `signingKey`. Replace both to rotate. */
  keys: SigningKey[];
  signingKey: SigningKey;
  readonly jwksFetches: number;
  readonly exchanges: number;
  /** Requests to any other path (the routes the gateway fronts). */
  readonly otherHits: number;
  /** Lifetime of exchanged tokens, seconds. */
  exchangeLifetimeSec: number;
  /** A session token signed with the current key, at the shared clock. */
  token(overrides?: Partial<SessionClaims>): string;
  /** A new PAT the token endpoint accepts, minting sessions with these claims. */
  registerPat(overrides?: Partial<SessionClaims>): string;
  close(): Promise<void>;
}

/**
 * Stands in for the auth service: JWKS at `/.well-known/jwks.json`, `POST /auth/v1/token` with `pat=`,
 * and an echo for every other path (the gateway's built-in routes lead there).
 */
export async function startFakeAuth(nowMs: () => number): Promise<FakeAuth> {
  const state = { jwksFetches: 0, exchanges: 0, otherHits: 0 };
  const pats = new Map<string, Partial<SessionClaims>>();
  const first = generateSigningKey();
  const holder: { server?: Server } = {};
  const auth: FakeAuth = {
    url: '',
    keys: [first],
    signingKey: first,
    exchangeLifetimeSec: 600,
    get jwksFetches() {
      return state.jwksFetches;
    },
    get exchanges() {
      return state.exchanges;
    },
    get otherHits() {
      return state.otherHits;
    },
    token(overrides: Partial<SessionClaims> = {}): string {
      const nowSec = Math.floor(nowMs() / 1000);
      return signSessionToken(claimsFor({ iss: TEST_ISSUER, aud: TEST_AUDIENCE, ...overrides }, nowSec), auth.signingKey);
    },
    registerPat(overrides: Partial<SessionClaims> = {}): string {
      const { key } = generatePat();
      pats.set(key, overrides);
      return key;
    },
    close: () => (holder.server ? close(holder.server) : Promise.resolve()),
  };

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/.well-known/jwks.json') {
        state.jwksFetches += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(toJwks(auth.keys)));
      }
      if (req.method === 'POST' && req.url === '/auth/v1/token') {
        state.exchanges += 1;
        const pat = new URLSearchParams(body).get('pat') ?? '';
        const claims = pats.get(pat);
        res.setHeader('content-type', 'application/json');
        res.setHeader('cache-control', 'no-store');
        if (!claims) {
          res.writeHead(400);
          return void res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'unknown token' }));
        }
        const nowSec = Math.floor(nowMs() / 1000);
        const access = auth.token({ ...claims, jti: randomUUID(), exp: nowSec + auth.exchangeLifetimeSec });
        return void res.end(
          JSON.stringify({
            access_token: access,
            token_type: 'Bearer',
            expires_in: auth.exchangeLifetimeSec,
            issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            scope: claims.scope ?? '*',
          }),
        );
      }
      state.otherHits += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: 'auth', method: req.method, url: req.url, headers: req.headers }));
    });
  });
  holder.server = server;
  auth.url = await listen(server);
  return auth;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  // Tests assert on decoded bodies as they do on supertest's `any` bodies.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json(): any;
}

export interface CallOptions {
  method?: string;
  /** Raw header pairs, so a test can send a header twice or with any spelling. */
  headers?: [string, string][];
  body?: Buffer | string;
}

/** One request over a fresh connection, with full control of the headers sent. */
export function call(baseUrl: string, path: string, options: CallOptions = {}): Promise<CallResult> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path,
      // Raw header arrays skip Node's default Host header, which HTTP/1.1 servers require.
      headers: [['host', url.host], ...(options.headers ?? [])].flat(),
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- see CallResult.json
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.end(options.body);
  });
}

/** A form POST, as `/auth/v1/token` takes it. */
export function formPost(fields: Record<string, string>): CallOptions {
  return { method: 'POST', headers: [['content-type', 'application/x-www-form-urlencoded']], body: new URLSearchParams(fields).toString() };
}

/** A JSON request with a session token, as the management API takes it. */
export function jsonRequest(method: string, token: string, body: unknown): CallOptions {
  return { method, headers: [...bearer(token), ['content-type', 'application/json']], body: JSON.stringify(body) };
}

/** A password-grant session for `email` at `baseUrl` (auth, or a gateway fronting it). */
export async function passwordSession(baseUrl: string, email: string, password: string): Promise<string> {
  const res = await call(baseUrl, '/auth/v1/token', formPost({ grant_type: 'password', username: email, password }));
  if (res.status !== 200) throw new Error(`password login answered ${res.status}: ${res.body.toString()}`);
  return res.json().access_token as string;
}

export function bearer(token: string): [string, string][] {
  return [['authorization', `Bearer ${token}`]];
}
