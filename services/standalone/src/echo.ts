import { createHash } from 'node:crypto';
import { type IncomingMessage, type RequestListener, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export const MAX_DOWNLOAD_BYTES = 1 << 30;
const ECHOED_BODY_BYTES = 4096;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/**
 * The example upstream `npm start` puts behind the gateway: answers JSON describing what it received
 * (method, path, headers — the identity headers the gateway set among them — and the body's size and
 * SHA-256), so a first user sees the gateway at work. `GET /download?bytes=N` streams N bytes.
 */
export function echoHandler(): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (req.method === 'GET' && url.pathname.endsWith('/download')) {
      streamBytes(res, Number(url.searchParams.get('bytes') ?? 0));
      return;
    }
    const hash = createHash('sha256');
    let length = 0;
    const head: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      if (length < ECHOED_BODY_BYTES) head.push(chunk.subarray(0, ECHOED_BODY_BYTES - length));
      length += chunk.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: { length, sha256: hash.digest('hex'), text: Buffer.concat(head).toString('utf8') },
      });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

function streamBytes(res: ServerResponse, requested: number): void {
  const total = Number.isSafeInteger(requested) && requested > 0 ? Math.min(requested, MAX_DOWNLOAD_BYTES) : 0;
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': total });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const piece = CHUNK.subarray(0, Math.min(CHUNK.length, total - sent));
      sent += piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Starts the echo upstream on a free loopback port. */
export async function listenEcho(port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(echoHandler());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
