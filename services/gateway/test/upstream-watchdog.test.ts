import { Agent, type ClientRequest, IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SWEEP_MS, MIN_SWEEP_MS, UpstreamTimeout, UpstreamWatchdog } from '../src/upstream-watchdog.js';

/**
 * The watchdog against real sockets: an upstream that holds each request open until the test answers or
 * writes to it. The clock is injected and sweeps are driven by hand; nothing waits for time to pass.
 */

const held: ServerResponse[] = [];
const upstream = createServer((req, res) => {
  req.resume();
  held.push(res);
});
const agent = new Agent({ keepAlive: true });
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  port = (upstream.address() as AddressInfo).port;
});
afterEach(() => {
  for (const res of held.splice(0)) res.destroy();
});
afterAll(async () => {
  agent.destroy();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

const clock = { ms: 0 };
const TIMEOUT_MS = 1_000;

function watchdog(): UpstreamWatchdog {
  clock.ms = 0;
  return new UpstreamWatchdog({ shortestTimeoutMs: TIMEOUT_MS, now: () => clock.ms, timer: false });
}

/** A request to the upstream, watched as http-proxy's proxyReq event would: once it has its socket. */
async function watched(dog: UpstreamWatchdog): Promise<{ client: IncomingMessage; upstreamRequest: ClientRequest; failure: Promise<Error> }> {
  const client = new IncomingMessage(new Socket());
  const upstreamRequest = request({ host: '127.0.0.1', port, path: '/', agent });
  const failure = new Promise<Error>((resolve) => upstreamRequest.once('error', resolve));
  const arrived = held.length + 1;
  await new Promise<void>((resolve) => upstreamRequest.once('socket', () => resolve()));
  dog.watch(client, upstreamRequest, TIMEOUT_MS);
  upstreamRequest.end();
  await until(() => held.length === arrived);
  return { client, upstreamRequest, failure };
}

/** Waits for something the sockets will do, by polling the event loop (no timers, no fixed delay). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('UpstreamWatchdog', () => {
  it('destroys an upstream request silent for its timeout with UpstreamTimeout (the 504 path)', async () => {
    const dog = watchdog();
    const { upstreamRequest, failure } = await watched(dog);
    dog.sweep(); // first look at the socket
    clock.ms += TIMEOUT_MS - 1;
    dog.sweep();
    expect(upstreamRequest.destroyed).toBe(false);
    clock.ms += 1;
    dog.sweep();
    expect(await failure).toBeInstanceOf(UpstreamTimeout);
    expect(upstreamRequest.destroyed).toBe(true);
    expect(dog.size).toBe(0);
  });

  it('keeps a slow answer alive while its bytes keep arriving', async () => {
    const dog = watchdog();
    const { upstreamRequest } = await watched(dog);
    let received = 0;
    upstreamRequest.once('response', (res) => res.on('data', (chunk: Buffer) => (received += chunk.length)));
    const res = held.at(-1)!;
    res.writeHead(200, { 'content-type': 'text/plain' });
    dog.sweep();
    for (let i = 1; i <= 3; i++) {
      clock.ms += TIMEOUT_MS - 1;
      res.write('x');
      await until(() => received === i);
      dog.sweep();
      expect(upstreamRequest.destroyed).toBe(false);
    }
    clock.ms += TIMEOUT_MS;
    dog.sweep();
    expect(upstreamRequest.destroyed).toBe(true);
  });

  it('forgets a request whose answer is complete, and one that failed on its own', async () => {
    const dog = watchdog();
    const done = await watched(dog);
    const failed = await watched(dog);
    expect(dog.size).toBe(2);
    dog.done(done.client);
    failed.upstreamRequest.destroy();
    dog.sweep();
    expect(dog.size).toBe(0);
    expect(done.upstreamRequest.destroyed).toBe(false);
  });

  it('keeps watching the others when a request the sweep already dropped is reported done', async () => {
    const dog = watchdog();
    const finished = await watched(dog);
    const silent = await watched(dog);
    finished.upstreamRequest.destroy(); // as node:http marks a completed request, before http-proxy's end event
    dog.sweep();
    expect(dog.size).toBe(1);
    dog.done(finished.client);
    expect(dog.size).toBe(1);
    clock.ms += TIMEOUT_MS;
    dog.sweep();
    expect(await silent.failure).toBeInstanceOf(UpstreamTimeout);
    expect(dog.size).toBe(0);
  });

  it('sweeps every tenth of the shortest route timeout, within bounds', () => {
    expect(new UpstreamWatchdog({ shortestTimeoutMs: 200 }).intervalMs).toBe(20);
    expect(new UpstreamWatchdog({ shortestTimeoutMs: 30 }).intervalMs).toBe(MIN_SWEEP_MS);
    expect(new UpstreamWatchdog({ shortestTimeoutMs: 60_000 }).intervalMs).toBe(MAX_SWEEP_MS);
  });
});
