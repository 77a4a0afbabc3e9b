import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, send } from './respond.js';

/**
 * The upstream's answer, relayed to the client. http-proxy runs with `selfHandleResponse`, so this is the
 * step it would otherwise take: its response passes copy the headers one `setHeader` at a time through a
 * closure per header, which measured ~5% of a proxied request's CPU. Here the same headers go in one
 * `writeHead`. What those passes did is kept exactly (HTTP/1.0 framing, the Connection default, status
 * text), plus the request id the gateway echoes, unless the upstream sent its own.
 */

const UPSTREAM_RESPONSE = Symbol('upstream response');
type RelayedResponse = ServerResponse & { [UPSTREAM_RESPONSE]?: IncomingMessage };

// Shared by every request: a client that goes away mid-download must not leave the upstream response (and
// its socket) stuck. `this` is the client's response.
function onClientClose(this: RelayedResponse): void {
  if (!this.writableFinished) this[UPSTREAM_RESPONSE]?.destroy();
}

/** `onInvalid` hears of an upstream answer node:http refused to relay (the client gets a 502 instead). */
export function relayUpstreamResponse(
  req: IncomingMessage,
  res: RelayedResponse,
  upstream: IncomingMessage,
  onInvalid: (error: unknown, req: IncomingMessage) => void,
): void {
  res[UPSTREAM_RESPONSE] = upstream;
  res.on('close', onClientClose);
  if (!res.headersSent) {
    const headers = upstream.headers;
    const requestId = req.headers['x-request-id'];
    if (req.httpVersion === '1.0') {
      // An HTTP/1.0 client cannot read chunked framing; Node closes after the body instead.
      delete headers['transfer-encoding'];
      headers.connection = req.headers.connection || 'close';
    } else if (!headers.connection) {
      headers.connection = req.headers.connection || 'keep-alive';
    }
    headers['x-request-id'] ??= requestId;
    try {
      const status = upstream.statusCode ?? 502;
      if (upstream.statusMessage) res.writeHead(status, upstream.statusMessage, headers);
      else res.writeHead(status, headers);
    } catch (error) {
      // A status or header node:http refuses to send (a status below 100, say): the upstream is broken.
      onInvalid(error, req);
      upstream.destroy();
      send(res, errorResponse('bad_gateway', 'invalid upstream response', String(requestId ?? '')));
      return;
    }
  }
  if (!res.writableEnded) upstream.pipe(res);
}
