import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { AppDeps } from './deps.js';
import { accessLines, accessLog } from './http/access-log.js';
import { errorHandler, notFound } from './http/errors.js';
import { observeRequests } from './http/metrics.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { requestId } from './http/request-id.js';
import { headersSetBy, tokenFastPath } from './http/token-fast-path.js';
import { apiTokenRoutes } from './routes/api-tokens.js';
import { metaRoutes } from './routes/meta.js';
import { oauthRoutes } from './routes/oauth.js';
import { tokenEndpoint, tokenRoutes } from './routes/token.js';
import { userRoutes } from './routes/users.js';

/** The auth service as node:http's `request` listener, with the express app behind it (its routes are the API). */
export type AuthApp = ((req: IncomingMessage, res: ServerResponse) => void) & { readonly express: Express };

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
  app.use(metaRoutes(deps));
  app.use(tokenRoutes(endpoint));
  app.use(oauthRoutes(deps));
  app.use(apiTokenRoutes(deps));
  app.use(userRoutes(deps));
  app.use(methodNotAllowed(app));
  app.use(notFound);
  app.use(errorHandler(deps.log));

  const fastPath = tokenFastPath({
    endpoint,
    trust: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
    securityHeaders: headersSetBy(security),
    accessLine: accessLines(deps.log),
    metrics: deps.metrics,
    log: deps.log,
  });
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    if (!fastPath(req, res)) app(req, res);
  };
  return Object.assign(listener, { express: app });
}
