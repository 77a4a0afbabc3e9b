import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closedPort } from '../../../test/support/gateway-harness.js';
import { type TestStack, startStack } from './helpers.js';

let stack: TestStack;
beforeAll(async () => {
  const down = await closedPort();
  stack = await startStack({
    routes: `
routes:
  - prefix: /down
    upstream: http://127.0.0.1:${down}
  - prefix: /
    upstream: "{{upstream}}"
`,
  });
});
afterAll(async () => {
  await stack.close();
});

function wsUrl(path: string): string {
  return `${stack.url.replace('http', 'ws')}${path}`;
}

/** Opens a socket; resolves with its first message, or with the HTTP status it was refused with. */
interface Greeting {
  url: string;
  headers: Record<string, string>;
}

function connect(path: string, headers: Record<string, string> = {}): Promise<{ socket?: WebSocket; first?: Greeting; status?: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(path), { headers });
    socket.once('message', (data: Buffer) => resolve({ socket, first: JSON.parse(data.toString()) as Greeting }));
    socket.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    socket.once('error', reject);
  });
}

describe('WebSocket upgrades', () => {
  it('are authenticated, then proxied with identity headers, and messages flow both ways', async () => {
    const token = stack.auth.token({ sub: 'ws-user' });
    const { socket, first } = await connect('/live?room=1', { authorization: `Bearer ${token}`, 'x-auth-subject': 'spoof' });
    expect(first!.url).toBe('/live?room=1');
    expect(first!.headers).toMatchObject({ 'x-auth-subject': 'ws-user', 'x-auth-org': 'org-1' });
    const echoed = new Promise<string>((resolve) => socket!.once('message', (data: Buffer) => resolve(data.toString())));
    socket!.send('ping');
    expect(await echoed).toBe('ping');
    socket!.close();
  });

  it('are refused without a token, before reaching the upstream (401)', async () => {
    const before = stack.upstream.hits;
    expect((await connect('/live')).status).toBe(401);
    expect(stack.upstream.hits).toBe(before);
  });

  it('are refused with a bad token (401)', async () => {
    const before = stack.upstream.hits;
    expect((await connect('/live', { authorization: 'Bearer not.a.token' })).status).toBe(401);
    expect(stack.upstream.hits).toBe(before);
  });

  it('answer 502 when the upstream is down', async () => {
    expect((await connect('/down', { authorization: `Bearer ${stack.auth.token()}` })).status).toBe(502);
  });
});
