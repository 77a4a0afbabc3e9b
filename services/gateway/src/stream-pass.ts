import { type Agent, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions, type ServerResponse, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import type { Stream } from 'node:stream';
import type { Plugin } from 'http-proxy-middleware';
import type { UpstreamTarget } from './upstream-agents.js';

/**
 * The gateway's `stream` pass: the step of http-proxy's pipeline that sends the request upstream, in place
 * of http-proxy's own. It differs in what it hands node:http, and only there:
 *
 * - the header fields as a flat list, not an object. Given an object, node:http's ClientRequest runs
 *   `setHeader` once per field (validate the name and value, lower-case the name, store `[name, value]` in
 *   a dictionary object) and then walks that dictionary to write the head; given a list, it validates and
 *   writes each field once. A gateway request carries about fourteen fields upstream.
 * - request options with only the keys the request needs. http-proxy's `setupOutgoing` sets sixteen, nine
 *   of them `undefined` here (TLS files, socket path, local address...), and node:http spreads the options
 *   into a new object three times per request (http.request, ClientRequest, the agent).
 *
 * On the bench machine the two together saved 12-15 µs of CPU a request, about 15% of the gateway's
 * throughput (docs/benchmarks.md, "A sixth look").
 *
 * Everything else is as http-proxy does it: its earlier passes (`deleteLength`, `timeout`, `XHeaders`)
 * still run; the path is its `urlJoin` of the upstream's path and the request's; `changeOrigin` sends the
 * upstream's host; TLS is verified (node:https's default, which http-proxy keeps unless `secure: false`);
 * and the request emits the same events (`proxyReq`, `proxyRes`, `end`, `error`, `econnreset`) at the
 * same moments, so the plugins see no difference. Left out is what the gateway never asks for: `forward`,
 * `followRedirects`, `auth`, TLS options, and http-proxy's own answer writing (the gateway always uses
 * `selfHandleResponse`).
 *
 * One difference in node:http: with a list it does not add a missing Host field itself, so this pass
 * does, as node:http would (the upstream's host, with its port unless default).
 */

interface HttpProxyCommon {
  urlJoin(...parts: string[]): string;
}
// http-proxy has no `exports` map; `common` is the module its own passes build requests with.
const common = createRequire(import.meta.url)('http-proxy/lib/http-proxy/common') as HttpProxyCommon;

type ProxyServer = Parameters<Plugin>[0];

/** What this pass reads from the options http-proxy hands it: the gateway's per-route `forward`. */
interface PassOptions {
  target: UpstreamTarget;
  changeOrigin: boolean;
  agent: Agent;
  buffer?: Stream;
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
 * The Host field is `host` when `replaceHost` (changeOrigin), else the request's; `host` when it has none.
 */
export function headerList(headers: IncomingHttpHeaders, host: string, replaceHost: boolean): string[] {
  const list: string[] = [];
  let hasHost = false;
  for (const name in headers) {
    const value = headers[name];
    if (name === 'host') {
      hasHost = value !== undefined;
      if (hasHost) list.push(name, replaceHost ? host : (value as string));
    } else if (typeof value === 'string') list.push(name, value);
    else if (value !== undefined) for (const one of value) list.push(name, one);
  }
  if (!hasHost) list.push('host', host);
  return list;
}

/**
 * http-proxy's `urlJoin(targetPath, url)`, the path the upstream gets, without its splits, joins and three
 * replaces (about 1.5% of a proxied request's CPU) when they would hand back `url` as it is: the upstream
 * URL has no path of its own, and `url` holds neither `//` (which urlJoin collapses before the query) nor
 * `:/` (it rewrites `http:/` and `https:/`). The gateway's normalised paths never hold `//`.
 */
export function upstreamPath(targetPath: string, url: string): string {
  if (targetPath === '' && !url.includes('//') && !url.includes(':/')) return url;
  return common.urlJoin(targetPath, url);
}

const sendUpstream: WebPass = (req, res, options, _head, server) => {
  const target = options.target;
  const tls = target.protocol === 'https:';
  const outgoing: RequestOptions = {
    hostname: target.hostname,
    port: target.port === '' ? (tls ? 443 : 80) : target.port,
    method: req.method,
    path: upstreamPath(target.path, req.url ?? ''),
    headers: headerList(req.headers, target.host, options.changeOrigin),
    agent: options.agent,
  };
  const proxyReq: ClientRequest = (tls ? httpsRequest : httpRequest)(outgoing);

  // As http-proxy: `proxyReq` once the request has its socket.
  proxyReq.on('socket', () => server.emit('proxyReq', proxyReq, req, res, options));
  req.on('aborted', () => proxyReq.destroy());
  const proxyError = (error: NodeJS.ErrnoException): void => {
    if (req.socket.destroyed && error.code === 'ECONNRESET') {
      server.emit('econnreset', error, req, res, target);
      proxyReq.destroy();
      return;
    }
    server.emit('error', error, req, res, target);
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
export function replaceStreamPass(proxyServer: ProxyServer): void {
  (proxyServer as unknown as PassChain).before('web', 'stream', sendUpstream);
}
