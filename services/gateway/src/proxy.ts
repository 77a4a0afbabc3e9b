import { type Agent, type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Duplex, Stream } from 'node:stream';
import { sendOnSocket } from '@portcullis/errors';
import { type Options, type Plugin, createProxyMiddleware } from 'http-proxy-middleware';
import type { Logger } from 'pino';
import type { RouteMetrics } from './metrics.js';
import { errorResponse, send } from './respond.js';
import type { RouteSpec } from './route-table.js';
import { replaceStreamPass } from './stream-pass.js';
import { upstreamTarget } from './upstream-agents.js';
import { relayUpstreamResponse } from './upstream-response.js';
import { UpstreamTimeout, type UpstreamWatchdog } from './upstream-watchdog.js';

/**
 * Forwarding to one route's upstream with http-proxy-middleware, without its default plugins (they log
 * and answer errors in their own format): bodies stream both ways untouched, connections are reused, and
 * upstream failures become the project's JSON errors (refused or reset → 502, silent too long → 504).
 * http-proxy's pipeline sends the request, with the gateway's own last step (stream-pass.ts: node:http gets
 * the header fields as a list and only the options it needs); the answer is relayed by
 * relayUpstreamResponse (`selfHandleResponse`).
 *
 * Requests reach the gateway already routed, checked and with their final path, so the middleware's own
 * per-request steps (path filter with url.parse, a copy of its options, the router and pathRewrite hooks,
 * three awaits) would only repeat work and add microtask hops. The http-proxy server the middleware builds
 * is handed to its plugins; the gateway keeps it and forwards with it directly. Upgrades, rare and not
 * latency-bound, go through the middleware's `upgrade`.
 */

export interface RouteProxy {
  /** Forwards an authenticated (or public) request; the answer comes from the upstream or is a 502/504. */
  web(req: IncomingMessage, res: ServerResponse): void;
  /** Forwards a WebSocket upgrade after the gateway has checked it. */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

type ProxyServer = Parameters<Plugin>[0];

/**
 * The body of a request that has none (RFC 9112 §6.3: neither Content-Length nor Transfer-Encoding), as
 * http-proxy's `buffer` option: it ends the upstream request at once. Piping the client's request instead
 * would add and remove seven listeners and wait a tick for an end that is already known. node:http
 * discards the unread (empty) request when the response finishes.
 */
class NoBody extends Stream {
  override pipe<T extends NodeJS.WritableStream>(destination: T): T {
    destination.end();
    return destination;
  }
}
const NO_BODY = new NoBody();

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export interface RouteProxyOptions {
  agent: Agent;
  logger: Logger;
  metrics: RouteMetrics;
  /** Times out upstreams silent past the route's timeout (504). */
  watchdog: UpstreamWatchdog;
}

export function createRouteProxy(spec: RouteSpec, options: RouteProxyOptions): RouteProxy {
  const { logger, metrics, watchdog } = options;

  /** What http-proxy needs per request, built once: it copies this object, nothing else. */
  const forward = {
    target: upstreamTarget(spec.upstream),
    changeOrigin: !spec.preserveHost,
    // The gateway sets X-Forwarded-* itself, honouring TRUST_PROXY; http-proxy would append blindly.
    xfwd: false,
    // `req.url` already holds the final origin-form path (see forwardUrl): used as is, not url.parse'd again.
    toProxy: true,
    // The answer is relayed by relayUpstreamResponse, on the proxyRes event below.
    selfHandleResponse: true,
    agent: options.agent,
  } satisfies Options;
  /** The same for a request without a body: http-proxy sends `buffer` in place of piping the request. */
  const forwardWithoutBody = { ...forward, buffer: NO_BODY } satisfies Options;

  const onInvalidAnswer = (error: unknown, req: IncomingMessage): void => {
    logger.warn({ err: error, requestId: req.headers['x-request-id'], prefix: spec.prefix, upstream: spec.upstream }, 'upstream answer refused');
  };

  const failures: Plugin = (proxyServer) => {
    proxyServer.on('proxyReq', (proxyReq, req) => {
      // Emitted once the upstream request has its socket; the gateway drops `Expect` so this always fires.
      watchdog.watch(req, proxyReq, spec.timeoutMs);
    });
    proxyServer.on('proxyRes', (proxyRes, req, res) => {
      metrics.answered(req, proxyRes.statusCode ?? 502);
      relayUpstreamResponse(req, res, proxyRes, onInvalidAnswer);
    });
    proxyServer.on('error', (error: NodeJS.ErrnoException, req, res) => {
      const requestId = String(req.headers['x-request-id'] ?? '');
      const timedOut = error instanceof UpstreamTimeout;
      logger.warn({ requestId, prefix: spec.prefix, upstream: spec.upstream, code: error.code, timedOut }, 'upstream failed');
      metrics.failed(req, timedOut ? 'timeout' : 'refused');
      const response = errorResponse(timedOut ? 'gateway_timeout' : 'bad_gateway', error.message, requestId);
      if (res instanceof ServerResponse) send(res, response);
      else if (res.bytesWritten === 0) sendOnSocket(res, response);
      // Already upgraded (or the upstream's answer started): only closing is left.
      else res.destroy();
    });
    // Emitted once the upstream's answer has been read to its end.
    proxyServer.on('end', (req) => watchdog.done(req));
    // Without its default plugins, http-proxy emits this when the client hung up first: nothing to answer.
    proxyServer.on('econnreset', () => undefined);
  };

  let server: ProxyServer | undefined;
  const middleware = createProxyMiddleware({
    ...forward,
    // Upgrades are authenticated by the gateway first, then handed to `middleware.upgrade` explicitly.
    ws: false,
    ejectPlugins: true,
    plugins: [
      (proxyServer) => {
        server = proxyServer;
      },
      replaceStreamPass,
      failures,
    ],
    logger: {
      info: () => undefined,
      warn: (...args: unknown[]) => logger.warn({ args }, 'http-proxy-middleware'),
      error: (...args: unknown[]) => logger.error({ args }, 'http-proxy-middleware'),
    },
  });
  // Plugins run in the middleware's constructor; a version that stopped doing so must fail at start.
  if (server === undefined) throw new Error('http-proxy-middleware did not hand its proxy server to the plugins');
  const proxyServer: ProxyServer = server;

  return {
    web(req, res) {
      try {
        proxyServer.web(req, res, hasBody(req) ? forward : forwardWithoutBody);
      } catch (error) {
        // node:http refused the outgoing request before sending it: a 502 like any upstream failure.
        const requestId = String(req.headers['x-request-id'] ?? '');
        logger.error({ err: error, requestId }, 'proxy setup failed');
        send(res, errorResponse('bad_gateway', 'proxy setup failed', requestId));
      }
    },
    ws(req, socket, head) {
      middleware.upgrade(req, socket as Socket, head);
    },
  };
}
