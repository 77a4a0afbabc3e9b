import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { errorResponse, send } from './respond.js';

/**
 * The upstream's answer, relayed to the client. http-proxy runs with `selfHandleResponse`, so this is the
 * step it would otherwise take: its response passes build the parsed headers object and copy it one
 * `setHeader` at a time. Here the upstream's raw header list goes to one `writeHead` as it came (names in
 * their case, repeated fields kept), less the fields that belong to the upstream hop (RFC 9110 §7.6.1),
 * plus the request id the gateway echoes unless the upstream sent its own. node:http then frames the
 * client's hop itself: keep-alive or close as the client asked, chunked only for an HTTP/1.1 client.
 */

/** Connection-specific fields, by length first: most header names are skipped without lowercasing. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((name) => name.length));
const REQUEST_ID = 'x-request-id';

/**
 * The header list for the client: `raw` less hop-by-hop fields (and the fields the upstream's Connection
 * header names), with `x-request-id` added when absent.
 */
export function clientHeaders(raw: readonly string[], requestId: string | undefined): string[] {
  const out: string[] = [];
  let named: Set<string> | undefined;
  let hasRequestId = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (HOP_BY_HOP_LENGTHS.has(name.length) || name.length === REQUEST_ID.length) {
      const lower = name.toLowerCase();
      if (lower === REQUEST_ID) hasRequestId = true;
      else if (HOP_BY_HOP.has(lower)) {
        if (lower === 'connection') named = connectionOptions(value, named);
        continue;
      }
    }
    out.push(name, value);
  }
  if (named !== undefined) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
  if (!hasRequestId && requestId !== undefined) out.push(REQUEST_ID, requestId);
  return out;
}

const PLAIN_CONNECTION_RE = /^\s*(?:close|keep-alive)\s*$/i;

/** `Connection: close, x-private` makes x-private hop-by-hop too: adds such names to `into`. */
function connectionOptions(value: string, into: Set<string> | undefined): Set<string> | undefined {
  if (PLAIN_CONNECTION_RE.test(value)) return into;
  for (const option of value.split(',')) {
    const name = option.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') (into ??= new Set()).add(name);
  }
  return into;
}

const UPSTREAM_RESPONSE = Symbol('upstream response');
const CLIENT_RESPONSE = Symbol('client response');
/** The client's side of a relay (a ServerResponse, or any Writable in the unit test), linked to its source. */
type RelayClient = Writable & { [UPSTREAM_RESPONSE]?: Readable };
type RelayUpstream = Readable & { [CLIENT_RESPONSE]?: Writable };

// Shared by every request: a client that goes away mid-download must not leave the upstream response (and
// its socket) stuck. `this` is the client's response.
function onClientClose(this: RelayClient): void {
  if (!this.writableFinished) this[UPSTREAM_RESPONSE]?.destroy();
}

/**
 * The body, relayed as `pipe` would (each chunk written as it comes, the upstream paused while the client's
 * side is full and resumed on `drain`, the client's response ended with the upstream's), with three
 * listeners shared by every request instead of the seven `pipe` adds to the two streams and removes again.
 * A client gone away is handled by onClientClose, which destroys the upstream response. `this` is the
 * upstream response in the first two, the client's side in the last.
 */
function onUpstreamData(this: RelayUpstream, chunk: Buffer): void {
  const client = this[CLIENT_RESPONSE]!;
  if (!client.write(chunk)) {
    this.pause();
    client.once('drain', onClientDrain);
  }
}

function onUpstreamEnd(this: RelayUpstream): void {
  this[CLIENT_RESPONSE]!.end();
}

function onClientDrain(this: RelayClient): void {
  this[UPSTREAM_RESPONSE]?.resume();
}

/** Streams `upstream` into `client` (see onUpstreamData). Exported for its unit test on plain streams. */
export function relayBody(upstream: Readable, client: Writable): void {
  (upstream as RelayUpstream)[CLIENT_RESPONSE] = client;
  (client as RelayClient)[UPSTREAM_RESPONSE] = upstream;
  upstream.on('data', onUpstreamData);
  upstream.on('end', onUpstreamEnd);
}

/** `onInvalid` hears of an upstream answer node:http refused to relay (the client gets a 502 instead). */
export function relayUpstreamResponse(
  req: IncomingMessage,
  res: ServerResponse,
  upstream: IncomingMessage,
  onInvalid: (error: unknown, req: IncomingMessage) => void,
): void {
  res.on('close', onClientClose);
  if (!res.headersSent) {
    const requestId = req.headers['x-request-id'];
    const headers = clientHeaders(upstream.rawHeaders, typeof requestId === 'string' ? requestId : undefined);
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
  if (!res.writableEnded) relayBody(upstream, res);
}
