import { readFileSync } from 'node:fs';
import { Router } from 'express';
import type { AppDeps } from '../deps.js';

export const JWKS_MAX_AGE_SEC = 300;

/** The package's OpenAPI document: `../../openapi.json` from src/routes/ and from dist/ routes/ alike. */
export const OPENAPI_DOCUMENT_URL = new URL('../../openapi.json', import.meta.url);

/** JWKS, the RFC 8414 metadata document, this service's OpenAPI document, and liveness/readiness. */
export function metaRoutes(deps: AppDeps): Router {
  const router = Router();
  // Read once, when the app is built: a missing or broken document stops start-up rather than a request.
  const openApiDocument = readFileSync(OPENAPI_DOCUMENT_URL, 'utf8');
  JSON.parse(openApiDocument);

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SEC}`);
    res.json(deps.keyRing.jwks());
  });

  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    const issuer = deps.settings.issuer.replace(/\/$/, '');
    res.json({
      issuer: deps.settings.issuer,
      token_endpoint: `${issuer}/auth/v1/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      revocation_endpoint: `${issuer}/auth/v1/revoke`,
      introspection_endpoint: `${issuer}/auth/v1/introspect`,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange', 'password'],
      token_endpoint_auth_methods_supported: ['none'],
    });
  });

  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openApiDocument);
  });

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, 'ok' | 'failing'> = {};
    const probe = async (name: string, check: () => Promise<void>) => {
      checks[name] = await check().then(
        () => 'ok' as const,
        () => 'failing' as const,
      );
    };
    await probe('store', () => deps.store.ping());
    if (deps.settings.redisPing) await probe('redis', deps.settings.redisPing);
    const ready = Object.values(checks).every((c) => c === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  return router;
}
