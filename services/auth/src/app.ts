import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorRenderer, HttpError, errorBody, hostProblem, statusOf } from '@portcullis/errors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { AppDeps } from './deps.js';
import { accessLines, accessLog } from './http/access-log.js';
import { errorHandler, notFound } from './http/errors.js';
import { observeRequests } from './http/metrics.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { requestId, requestIdFrom } from './http/request-id.js';
import { headersSetBy, tokenFastPath } from './http/token-fast-path.js';
import { apiTokenRoutes } from './routes/api-tokens.js';
import { metaRoutes } from './routes/meta.js';
import { oauthRoutes } from './routes/oauth.js';
import { tokenEndpoint, tokenRoutes } from './routes/token.js';
import { userRoutes } from './routes/users.js';

/**
 * The auth service as node:http's `request` listener, with the express app behind it (its routes are the API)
 * and the renderer for what the server answers before any route (a request that does not parse, CONNECT).
 */
export type AuthApp = ((req: IncomingMessage, res: ServerResponse) => void) & { readonly express: Express; readonly renderError: ErrorRenderer };

/**
 * RFC 9112 §3.2 (see hostProblem): the server leaves this check to the app, so its 400 has the project's
 * shape. The connection is closed after it, as node:http's own check does.
 */
function oneHost(req: Request, _res: Response, next: NextFunction): void {
  const problem = hostProblem(req);
  next(problem === undefined ? undefined : new HttpError('invalid_request', problem, { headers: { Connection: 'close' } }));
}

/**
 * The auth service's HTTP app. Never listens: main.ts (or a test) does. Token requests in the common
 * shape take the fast path (http/token-fast-path.ts); everything else, the token route's other shapes
 * included, goes through express.
 */
export function createApp(deps: AppDeps): AuthApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.settings.trustProxy);
  const security = helmet();
  const endpoint = tokenEndpoint(deps);
  app.use(requestId);
  app.use(security);
  app.use(accessLog(deps.log));
  app.use(observeRequests(deps.metrics));
  app.use(oneHost);
  app.use(metaRoutes(deps));
  app.use(tokenRoutes(endpoint));
  app.use(oauthRoutes(deps));
  app.use(apiTokenRoutes(deps));
  app.use(userRoutes(deps));
  app.use(methodNotAllowed(app));
  app.use(notFound);
  app.use(errorHandler(deps.log));

  const securityHeaders = headersSetBy(security);
  const fastPath = tokenFastPath({
    endpoint,
    trust: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
    securityHeaders,
    accessLine: accessLines(deps.log),
    metrics: deps.metrics,
    log: deps.log,
  });
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (!fastPath(req, res)) app(req, res);
  };
  const renderError: ErrorRenderer = (code, message, req) => {
    const id = requestIdFrom(req?.headers['x-request-id']);
    const body = JSON.stringify(errorBody(code, message, id));
    const headers: Record<string, string> = { 'X-Request-Id': id };
    for (let i = 0; i < securityHeaders.length; i += 2) headers[securityHeaders[i]!] = securityHeaders[i + 1]!;
    headers['Content-Type'] = 'application/json; charset=utf-8';
    headers['Content-Length'] = String(Buffer.byteLength(body));
    return { status: statusOf(code), headers, body };
  };
  return Object.assign(listener, { express: app, renderError });
}
