import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessLog } from '../src/http/access-log.js';
import { requestId } from '../src/http/request-id.js';

describe('the access log', () => {
  const servers: { close: () => void }[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  async function serve(): Promise<{ url: string; lines: Record<string, unknown>[]; hanging: Promise<void> }> {
    const lines: Record<string, unknown>[] = [];
    let arrived = (): void => undefined;
    const hanging = new Promise<void>((resolve) => (arrived = resolve));
    // The service logger redacts `password`; access lines never carry one, whatever the request held.
    const log = pino({ redact: { paths: ['password'], censor: '[redacted]' } }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const app = express();
    app.use(requestId, accessLog(log));
    app.get('/things/:id', (_req, res) => void res.json({ ok: true }));
    app.get('/boom', (_req, res) => void res.status(500).json({}));
    app.get('/hang', () => arrived());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    servers.push(server);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines, hanging };
  }

  it('writes one line per request with the route template, never the raw path or query', async () => {
    const { url, lines } = await serve();
    await fetch(`${url}/things/42?password=hunter2`, { headers: { 'x-request-id': 'req-1', authorization: 'Bearer secret' } });
    await fetch(`${url}/boom`);
    await vi.waitFor(() => expect(lines).toHaveLength(2));
    expect(lines[0]).toMatchObject({ msg: 'request', level: 30, req: { id: 'req-1', method: 'GET' }, res: { status: 200 }, route: '/things/:id' });
    expect(lines[0]!.responseTime).toEqual(expect.any(Number));
    expect(lines[1]).toMatchObject({ msg: 'request failed', level: 50, res: { status: 500 }, route: '/boom' });
    const all = JSON.stringify(lines);
    for (const leak of ['hunter2', 'secret', '/things/42']) expect(all).not.toContain(leak);
  });

  it('logs a request whose client went away before the answer as aborted', async () => {
    const { url, lines, hanging } = await serve();
    const req = httpRequest(`${url}/hang`);
    req.on('error', () => undefined);
    req.end();
    await hanging; // the handler has it and never answers
    req.destroy();
    await vi.waitFor(() => expect(lines).toHaveLength(1));
    expect(lines[0]).toMatchObject({ msg: 'request aborted', level: 40, route: '/hang' });
  });
});
