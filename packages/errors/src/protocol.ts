import { type IncomingMessage, type OutgoingHttpHeaders, type RequestListener, STATUS_CODES, type Server, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from './codes.js';

/**
 * Requests node:http answers by itself, before any listener runs: with an empty body (a malformed request,
 * a missing Host, an `Expect` it does not know), or not at all (`CONNECT`, which it drops). Both services'
 * servers answer them in the one error shape instead, with their own headers, through the hooks node:http
 * offers for it.
 */

/** A whole error answer: status, headers (the service's security headers, the request id) and JSON body. */
export interface ErrorResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
}

/** How a service renders an error; `req` is absent when the request could not even be parsed. */
export type ErrorRenderer = (code: ErrorCode, message: string, req: IncomingMessage | undefined) => ErrorResponse;

/** Writes a whole answer on a socket node:http no longer frames (an upgrade, CONNECT, a parse error), then closes it. */
export function sendOnSocket(socket: Duplex, response: ErrorResponse): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let head = `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries({ ...response.headers, connection: 'close' })) {
    if (value !== undefined) head += `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}\r\n`;
  }
  socket.end(`${head}\r\n${response.body}`);
}

/** llhttp's codes for a request too large to parse, and node:http's for one that took too long to arrive. */
function clientErrorAnswer(code: string | undefined): [ErrorCode, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return ['headers_too_large', 'The request line and headers are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return ['request_timeout', 'The request did not arrive in time'];
    default:
      return ['invalid_request', 'Malformed HTTP request'];
  }
}

/**
 * A node:http server for `listener` that answers in the project's shape where node:http would answer by
 * itself:
 * - a request that does not parse: 400 (431 for headers over the limit, 408 when it arrives too slowly);
 * - `CONNECT`: 400, neither service is a forward proxy (node:http would close the connection silently);
 * - an `Expect` other than `100-continue` is ignored (RFC 9110 §10.1.1 allows it) and the request served,
 *   where node:http would send an empty 417;
 * - node:http's Host check is off: it answers an empty 400 and lets a repeated Host through. The listener
 *   checks `hostProblem` instead.
 */
export function createHttpServer(listener: RequestListener, render: ErrorRenderer): Server {
  const server = createServer({ requireHostHeader: false }, listener);
  server.on('checkExpectation', listener);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const [code, message] = clientErrorAnswer(error.code);
    sendOnSocket(socket, render(code, message, undefined));
  });
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    // node:http no longer listens on the socket: an error on it now (the client hung up) must not go uncaught.
    socket.on('error', () => socket.destroy());
    sendOnSocket(socket, render('invalid_request', 'CONNECT is not supported: this is not a forward proxy', req));
  });
  return server;
}

/**
 * RFC 9112 §3.2: a request with more than one Host field, or an HTTP/1.1 request without one, gets 400.
 * node:http keeps the first of several (another proxy on the path may keep the last), so they are counted
 * in the raw header list. Returns what is wrong, or undefined.
 */
export function hostProblem(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts += 1;
  }
  return hostCountProblem(hosts, req.httpVersion);
}

/** hostProblem's rule, for a listener that already counts the Host fields in its own pass over the raw list. */
export function hostCountProblem(hosts: number, httpVersion: string): string | undefined {
  if (hosts > 1) return 'Send exactly one Host header';
  if (hosts === 0 && httpVersion === '1.1') return 'An HTTP/1.1 request needs a Host header';
  return undefined;
}
