import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ErrorResponse, hostCountProblem, sendOnSocket } from '@portcullis/errors';
import type { Logger } from 'pino';
import type { Authenticator, AuthOutcome, RevocationCheck } from './authenticate.js';
import type { GatewayConfig } from './config.js';
import { type Credential, readCredential } from './credentials.js';
import { type AuthFailure, FAILURE, isFailure } from './failures.js';
import {
  assignRequestId,
  clientIp,
  fieldsKeptForUpstream,
  normalizeConnectionHeaders,
  setForwardedHeaders,
  type HeaderScan,
  setIdentityHeaders,
  stripIdentityHeaders,
} from './forward-headers.js';
import { grants, roleAllowsMethod } from './identity.js';
import { type GatewayMetrics, markStart } from './metrics.js';
import { OWN_PATHS, createOwnEndpoints } from './own-endpoints.js';
import { type RouteProxy, createRouteProxy } from './proxy.js';
import { RefusalLog } from './refusal-log.js';
import { type RequestTarget, forwardUrl, parseRequestTarget } from './request-path.js';
import { errorResponse, failureResponse, send } from './respond.js';
import type { RouteSpec } from './route-table.js';
import { METHOD_NOT_ALLOWED, allowedMethods, createRouter, requiredPermission, rewritePath } from './routes.js';
import type { UpstreamAgents } from './upstream-agents.js';
import { UpstreamWatchdog } from './upstream-watchdog.js';

export type GatewayAppConfig = Pick<
  GatewayConfig,
  'routes' | 'identityHeaders' | 'patHeader' | 'patPrefix' | 'trustProxy' | 'realm' | 'revocationFailOpen'
>;

export interface GatewayAppDeps {
  config: GatewayAppConfig;
  authenticator: Authenticator;
  jwks: { readonly loaded: boolean };
  revocation: RevocationCheck;
  agents: UpstreamAgents;
  logger: Logger;
  metrics: GatewayMetrics;
  /** See OwnEndpointsDeps.metricsText. */
  metricsText?: () => Promise<string>;
  /** Epoch ms, for the throttle of the 503 warnings (RefusalLog). Default `Date.now`. */
  now?: () => number;
}

export interface GatewayApp {
  /** The `request` listener: own endpoints through express, everything else checked and proxied. */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** The `upgrade` listener: WebSocket upgrades are checked exactly like requests, then proxied. */
  readonly handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

interface RouteEntry {
  spec: RouteSpec;
  proxy: RouteProxy;
}

type Decision = RouteEntry | ErrorResponse;

function isRejection(decision: Decision): decision is ErrorResponse {
  return 'status' in decision;
}

/**
 * Builds the gateway; never listens. Proxied requests go straight from node:http through the checks below
 * to http-proxy-middleware, with no framework in between: this is the hot path the benchmark measures.
 * Nothing reaches an upstream unless every check passed; a rejection never calls it.
 */
export function createApp(deps: GatewayAppDeps): GatewayApp {
  const { config, authenticator, logger, metrics } = deps;
  const names = config.identityHeaders;
  const twins = new Set([names.subject, names.org, names.tokenId, names.scope]);
  const kept = fieldsKeptForUpstream(twins);
  const refusals = new RefusalLog(logger, deps.now ?? Date.now);
  const watchdog = new UpstreamWatchdog({ shortestTimeoutMs: Math.min(...config.routes.map((r) => r.timeoutMs)) });
  const router = createRouter(
    config.routes.map((spec): RouteEntry => ({
      spec,
      proxy: createRouteProxy(spec, { agent: deps.agents.for(spec.upstream), logger, metrics: metrics.forRoute(spec.prefix), watchdog }),
    })),
  );
  const ownEndpoints = createOwnEndpoints({
    jwks: deps.jwks,
    revocation: deps.revocation,
    revocationFailOpen: config.revocationFailOpen,
    logger,
    metrics,
    ...(deps.metricsText ? { metricsText: deps.metricsText } : {}),
  });

  function reject(failure: AuthFailure, requestId: string, scope?: string): ErrorResponse {
    if (failure.code === 'service_unavailable') refusals.refused(failure.message, requestId);
    return failureResponse(failure, requestId, config.realm, scope);
  }

  /** Checks the request against its route and, when it may pass, rewrites its headers for the upstream. */
  function decide(req: IncomingMessage, requestId: string, path: string, scan: HeaderScan): Decision | Promise<Decision> {
    const entry = router.match(path);
    if (entry === undefined) return errorResponse('not_found', 'No route for this path', requestId);
    if (!entry.spec.auth) {
      delete req.headers[config.patHeader];
      if (!entry.spec.forwardAuthorization) delete req.headers.authorization;
      return entry;
    }
    if (scan.duplicateAuthorization) return reject(FAILURE.twoCredentials, requestId);
    const credential = readCredential(req.headers, config.patHeader, config.patPrefix);
    if (isFailure(credential)) return reject(credential, requestId);
    // The client address only matters to a PAT exchange (auth records it); skip the lookup otherwise.
    const ip = credential.kind === 'pat' ? clientIp(req, config.trustProxy) : undefined;
    const outcome = authenticator.authenticate(credential, { requestId, clientIp: ip });
    if (outcome instanceof Promise) return outcome.then((o) => admit(req, requestId, entry, credential, o));
    return admit(req, requestId, entry, credential, outcome);
  }

  function admit(req: IncomingMessage, requestId: string, entry: RouteEntry, credential: Credential, outcome: AuthOutcome): Decision {
    if (isFailure(outcome)) return reject(outcome, requestId);
    const method = req.method ?? 'GET';
    const permission = requiredPermission(entry.spec, method);
    if (permission === METHOD_NOT_ALLOWED) {
      return errorResponse('method_not_allowed', `${method} is not allowed on this route`, requestId, {
        allow: allowedMethods(entry.spec).join(', '),
      });
    }
    if (!roleAllowsMethod(outcome, method)) {
      const failure: AuthFailure = {
        code: 'insufficient_scope',
        message: 'A read_only user may only use GET, HEAD and OPTIONS',
        bearerError: 'insufficient_scope',
      };
      return reject(failure, requestId);
    }
    if (!grants(outcome, permission)) {
      const failure: AuthFailure = {
        code: 'insufficient_scope',
        message: `This request needs the permission ${permission}`,
        bearerError: 'insufficient_scope',
      };
      return reject(failure, requestId, permission ?? undefined);
    }

    setIdentityHeaders(req, names, outcome);
    const headers = req.headers;
    if (credential.via === 'pat-header') delete headers[config.patHeader];
    if (!entry.spec.forwardAuthorization) delete headers.authorization;
    // A PAT never leaves the gateway: upstreams get the session token, always in the Bearer form.
    else if (credential.kind === 'pat' || credential.via === 'pat-header' || !headers.authorization?.startsWith('Bearer ')) {
      headers.authorization = `Bearer ${credential.kind === 'jwt' ? credential.value : outcome.token}`;
    }
    return entry;
  }

  /** Final touches shared by HTTP and WebSocket: forwarding headers and the upstream path. */
  function prepareForward(req: IncomingMessage, entry: RouteEntry, path: string, query: string, upgrade: boolean): void {
    // Node already answered `100 Continue`; dropping Expect keeps http-proxy's proxyReq event (and with it
    // the upstream timeout) firing for every request.
    delete req.headers.expect;
    normalizeConnectionHeaders(req, upgrade, kept);
    setForwardedHeaders(req, config.trustProxy);
    req.url = forwardUrl(rewritePath(entry.spec, path), query);
  }

  function failed(error: unknown, requestId: string): ErrorResponse {
    logger.error({ err: error, requestId }, 'request handling failed');
    return errorResponse('internal_error', 'internal error', requestId);
  }

  function answer(req: IncomingMessage, res: ServerResponse, response: ErrorResponse): void {
    metrics.gatewayAnswered(req, response.status);
    send(res, response);
  }

  function forwardRequest(req: IncomingMessage, res: ServerResponse, target: RequestTarget, decision: Decision): void {
    if (isRejection(decision)) return answer(req, res, decision);
    prepareForward(req, decision, target.path, target.query, false);
    // The request id reaches the client with the upstream's headers (relayUpstreamResponse), in one writeHead.
    decision.proxy.web(req, res);
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    markStart(req);
    const requestId = assignRequestId(req);
    try {
      // One pass over the raw headers: client-sent identity headers go, Authorization and Host are counted.
      const scan = stripIdentityHeaders(req, names, twins);
      // Closed after the answer, as node:http's own Host check does: what else the client sends is suspect.
      const host = hostCountProblem(scan.hosts, req.httpVersion);
      if (host !== undefined) return answer(req, res, errorResponse('invalid_request', host, requestId, { connection: 'close' }));
      const target = parseRequestTarget(req.url ?? '');
      if (target === null) return answer(req, res, errorResponse('invalid_request', 'Malformed request path', requestId));
      if (OWN_PATHS.has(target.path)) return ownEndpoints(req, res);
      const decision = decide(req, requestId, target.path, scan);
      // The common case (a cached session token) is decided synchronously: no promise, no closure.
      if (!(decision instanceof Promise)) return forwardRequest(req, res, target, decision);
      decision.then(
        (d) => forwardRequest(req, res, target, d),
        (error: unknown) => answer(req, res, failed(error, requestId)),
      );
    } catch (error) {
      answer(req, res, failed(error, requestId));
    }
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const requestId = assignRequestId(req);
    // A socket error before the hand-over (client gone) must not crash the process.
    socket.on('error', (error) => logger.debug({ err: error, requestId }, 'upgrade socket error'));
    try {
      const scan = stripIdentityHeaders(req, names, twins);
      // node:http skips its own Host check for upgrades.
      const host = hostCountProblem(scan.hosts, req.httpVersion);
      if (host !== undefined) return sendOnSocket(socket, errorResponse('invalid_request', host, requestId));
      const target = parseRequestTarget(req.url ?? '');
      if (target === null) return sendOnSocket(socket, errorResponse('invalid_request', 'Malformed request path', requestId));
      if (OWN_PATHS.has(target.path)) return sendOnSocket(socket, errorResponse('not_found', 'Not found', requestId));
      const decision = decide(req, requestId, target.path, scan);
      const finish = (d: Decision): void => {
        if (isRejection(d)) return sendOnSocket(socket, d);
        prepareForward(req, d, target.path, target.query, true);
        d.proxy.ws(req, socket, head);
      };
      if (decision instanceof Promise) decision.then(finish, (error: unknown) => sendOnSocket(socket, failed(error, requestId)));
      else finish(decision);
    } catch (error) {
      sendOnSocket(socket, failed(error, requestId));
    }
  }

  return { handleRequest, handleUpgrade };
}
