import express, { type Express } from 'express';
import helmet from 'helmet';
import type { AppDeps } from './deps.js';
import { errorHandler, notFound } from './http/errors.js';
import { accessLog } from './http/access-log.js';
import { observeRequests } from './http/metrics.js';
import { methodNotAllowed } from './http/method-not-allowed.js';
import { requestId } from './http/request-id.js';
import { apiTokenRoutes } from './routes/api-tokens.js';
import { metaRoutes } from './routes/meta.js';
import { oauthRoutes } from './routes/oauth.js';
import { tokenRoutes } from './routes/token.js';
import { userRoutes } from './routes/users.js';

/** The auth service's HTTP app. Never listens: main.ts (or a test) does. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.settings.trustProxy);
  app.use(requestId);
  app.use(helmet());
  app.use(accessLog(deps.log));
  app.use(observeRequests(deps.metrics));
  app.use(metaRoutes(deps));
  app.use(tokenRoutes(deps));
  app.use(oauthRoutes(deps));
  app.use(apiTokenRoutes(deps));
  app.use(userRoutes(deps));
  app.use(methodNotAllowed(app));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
