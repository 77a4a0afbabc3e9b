import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * node:http hands every request that asks for an upgrade to the `upgrade` listener, whatever the protocol.
 * The gateway proxies WebSocket upgrades only (http-proxy closes the socket on anything else), and a server
 * may ignore an Upgrade it does not support (RFC 9110 §7.8). So any other upgrade (`h2c`, which Java's
 * HttpClient and `curl --http2` send on plain http) is served as the HTTP/1.1 request it also is.
 */

const WEBSOCKET_RE = /^\s*websocket\s*$/i;

/** A WebSocket opening handshake (RFC 6455 §4.1: a GET asking for `websocket`), which the gateway proxies. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.method === 'GET' && WEBSOCKET_RE.test(req.headers.upgrade ?? '');
}

/**
 * Gives the connection back to `server` as if it had just arrived, with the request it already read put
 * back in front of the rest, less its Upgrade field: node:http then parses and answers it (and whatever
 * follows on the connection) like any other request, through every check. `server.emit('connection')` is
 * node:http's documented way to hand it a socket. Header bytes are as received: node:http reads them as
 * latin1, one character per byte, and they are written back the same way.
 */
export function serveWithoutUpgrade(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 7 && name.toLowerCase() === 'upgrade') continue;
    text += `${name}: ${raw[i + 1]}\r\n`;
  }
  socket.unshift(Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), head]));
  server.emit('connection', socket);
}
