import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '@portcullis/errors';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import type { RevocationCheck } from './authenticate.js';
import type { GatewayMetrics } from './metrics.js';

/** Paths the gateway answers itself, ahead of the route table. */
export const OWN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/openapi.json', '/metrics']);

/** The package's OpenAPI document: `../openapi.json` from src/ and from dist/ alike. */
export const OPENAPI_DOCUMENT_URL = new URL('../openapi.json', import.meta.url);

export interface OwnEndpointsDeps {
  jwks: { readonly loaded: boolean };
  revocation: RevocationCheck;
  revocationFailOpen: boolean;
  logger: Logger;
  metrics: GatewayMetrics;
  /** What `/metrics` serves; default this process's registry (a cluster worker asks the primary for the sum). */
  metricsText?: () => Promise<string>;
}

function requestIdOf(req: Request): string {
  return String(req.headers['x-request-id'] ?? '');
}

/**
 * The gateway's own endpoints, in express: they are few and cold, so express's router and helmet cost
 * nothing that matters here, while proxied requests never enter express.
 *
 * `/readyz` is ready when the key set is loaded and the revocation set is fresh (or failing open): a load
 * balancer then sends traffic only to gateways that can answer it.
 */
export function createOwnEndpoints(deps: OwnEndpointsDeps): (req: IncomingMessage, res: ServerResponse) => void {
  // Read once, when the gateway is built: a missing or broken document stops start-up rather than a request.
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT_URL, 'utf8');
  JSON.parse(openApiDocument);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(helmet());
  app.use((req, res, next) => {
    res.setHeader('x-request-id', requestIdOf(req));
    res.setHeader('cache-control', 'no-store');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // The same body as auth's /readyz: `{status, checks: {name: "ok" | "failing"}}`.
  app.get('/readyz', (_req, res) => {
    const jwks = deps.jwks.loaded;
    const revocation = deps.revocation.isFresh();
    const ready = jwks && (revocation || deps.revocationFailOpen);
    const checks = { jwks: jwks ? 'ok' : 'failing', revocation: revocation ? 'ok' : 'failing' };
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  const metricsText = deps.metricsText ?? (() => deps.metrics.registry.metrics());
  app.get('/metrics', async (_req, res) => {
    const text = await metricsText();
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.send(text);
  });

  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApiDocument);
  });

  app.all([...OWN_PATHS], (req, res) => {
    res.setHeader('allow', 'GET, HEAD');
    res.status(405).json(errorBody('method_not_allowed', `${req.method} is not allowed here`, requestIdOf(req)));
  });

  app.use((req: Request, res: Response) => {
    res.status(404).json(errorBody('not_found', 'Not found', requestIdOf(req)));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: error, requestId: requestIdOf(req) }, 'gateway endpoint failed');
    res.status(500).json(errorBody('internal_error', 'internal error', requestIdOf(req)));
  });

  return app;
}
