import { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions, type ServerResponse, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import type { Stream } from 'node:stream';
import type { Plugin } from 'http-proxy-middleware';

/**
 * http-proxy's `stream` pass (the one that sends the request upstream), with one change: node:http gets
 * the request's header fields as a flat list instead of an object.
 *
 * Why: given an object, node:http's ClientRequest runs `setHeader` once per field (validate the name and
 * value, lower-case the name, store `[name, value]` in a dictionary object) and then walks that dictionary
 * to write the head. Given a list, it validates and writes each field once. A gateway request carries
 * about fourteen fields upstream; on the bench machine the list saved 3-6 µs of CPU a request, 3-5% of
 * the gateway's throughput (docs/benchmarks.md, "A sixth look").
 *
 * Everything else is http-proxy's own: the outgoing options come from its `common.setupOutgoing` (target,
 * TLS fields, `changeOrigin`, the joined path), its earlier passes (`deleteLength`, `timeout`, `XHeaders`)
 * still run, and the request emits the same events (`proxyReq`, `proxyRes`, `end`, `error`, `econnreset`)
 * at the same moments, so the plugins see no difference. What this pass leaves out is what the gateway
 * never asks for: `forward`, `followRedirects`, and http-proxy's own answer writing (the gateway always
 * uses `selfHandleResponse`).
 *
 * One difference in node:http: with a list it does not add a missing Host field itself, so this pass
 * does, as node:http would (the upstream's host, with its port unless default).
 */

interface HttpProxyCommon {
  setupOutgoing(outgoing: object, options: object, req: IncomingMessage): RequestOptions;
}
// http-proxy has no `exports` map; `common` is the module its own passes build requests with.
const common = createRequire(import.meta.url)('http-proxy/lib/http-proxy/common') as HttpProxyCommon;

type ProxyServer = Parameters<Plugin>[0];

/** What this pass reads from the options http-proxy hands it (the gateway's per-route `forward`). */
interface PassOptions {
  target: { protocol: string; host: string };
  buffer?: Stream;
  selfHandleResponse?: boolean;
}

/** A pass, as http-proxy calls it; returning true ends the chain. */
type WebPass = (req: IncomingMessage, res: ServerResponse, options: PassOptions, head: unknown, server: ProxyServer) => boolean;

/** http-proxy's way of inserting a pass (`ProxyServer.prototype.before`), missing from its type definitions. */
interface PassChain {
  before(type: 'web', passName: string, pass: WebPass): void;
}

/**
 * Header fields as node:http's list form: name, value, name, value. A field with several values becomes
 * several lines, as node:http writes it from an object (Cookie never does: node:http joins a request's).
 */
export function headerList(headers: IncomingHttpHeaders, host: string): string[] {
  const list: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') list.push(name, value);
    else if (value !== undefined) for (const one of value) list.push(name, one);
  }
  if (headers.host === undefined) list.push('host', host);
  return list;
}

const sendUpstream: WebPass = (req, res, options, _head, server) => {
  const outgoing: RequestOptions = common.setupOutgoing({}, options, req);
  outgoing.headers = headerList(outgoing.headers as IncomingHttpHeaders, options.target.host);
  const proxyReq: ClientRequest = (options.target.protocol === 'https:' ? httpsRequest : httpRequest)(outgoing);

  // As http-proxy: `proxyReq` once the request has its socket.
  proxyReq.on('socket', () => server.emit('proxyReq', proxyReq, req, res, options));
  req.on('aborted', () => proxyReq.destroy());
  const proxyError = (error: NodeJS.ErrnoException): void => {
    if (req.socket.destroyed && error.code === 'ECONNRESET') {
      server.emit('econnreset', error, req, res, options.target);
      proxyReq.destroy();
      return;
    }
    server.emit('error', error, req, res, options.target);
  };
  req.on('error', proxyError);
  proxyReq.on('error', proxyError);

  (options.buffer ?? req).pipe(proxyReq);

  proxyReq.on('response', (proxyRes) => {
    server.emit('proxyRes', proxyRes, req, res);
    if (res.writableEnded) server.emit('end', req, res, proxyRes);
    else proxyRes.on('end', () => server.emit('end', req, res, proxyRes));
  });
  return true;
};

/**
 * Puts the pass in front of http-proxy's own `stream`, which then never runs. Throws if this http-proxy
 * has no pass of that name (a version that reorganised its passes must fail at start, not forward wrong).
 */
export function sendWithHeaderList(proxyServer: ProxyServer): void {
  (proxyServer as unknown as PassChain).before('web', 'stream', sendUpstream);
}
