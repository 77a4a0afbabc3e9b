import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { routeOf } from './access-log.js';

/** The auth service's Prometheus metrics, in a registry of its own (no global state). */
export interface AuthMetrics {
  registry: Registry;
  requests: Histogram<'method' | 'route' | 'status'>;
  exchanges: Counter<'grant' | 'outcome'>;
  revocations: Counter<'result'>;
  rebuilds: Counter<'result'>;
}

export function createAuthMetrics(options: { defaultMetrics?: boolean } = {}): AuthMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'portcullis_auth_' });
  return {
    registry,
    requests: new Histogram({
      name: 'portcullis_auth_http_request_duration_seconds',
      help: 'HTTP requests by route template, method and status (count and latency).',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    exchanges: new Counter({
      name: 'portcullis_auth_exchanges_total',
      help: 'Token endpoint outcomes by grant (pat, token_exchange, password) and outcome (issued or the error code).',
      labelNames: ['grant', 'outcome'],
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'portcullis_auth_revocation_publishes_total',
      help: 'Revocation entries published to the cache, by result (ok, failed: delivered by the next rebuild).',
      labelNames: ['result'],
      registers: [registry],
    }),
    rebuilds: new Counter({
      name: 'portcullis_auth_revocation_rebuilds_total',
      help: 'Rebuilds of the revocation cache from PostgreSQL, by result.',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** Observes every request once it finishes, labelled by the route template (never the raw path, which holds ids). */
export function observeRequests(metrics: AuthMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.requests.startTimer();
    res.on('finish', () => end({ method: req.method, route: routeOf(req), status: String(res.statusCode) }));
    next();
  };
}
