import type { IncomingMessage } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AccessLog } from './access-log.js';
import { LatencyHistogram, PendingCount } from './hot-metrics.js';

/** What the revocation set can tell about itself (RevocationSet has both). */
export interface RevocationStats {
  readonly size?: number;
  readonly lastContactAt?: number | undefined;
  readonly snapshots?: number;
  readonly reloads?: ReadonlyMap<string, number>;
}

const STARTED = Symbol('request started');
type TimedRequest = IncomingMessage & { [STARTED]?: number };

/** Stamps the request's arrival, for the latency histogram; one `performance.now()` per request. */
export function markStart(req: IncomingMessage): void {
  (req as TimedRequest)[STARTED] = performance.now();
}

function elapsedMs(req: IncomingMessage): number | undefined {
  const started = (req as TimedRequest)[STARTED];
  return started === undefined ? undefined : performance.now() - started;
}

/** Per-route recorders with their label values bound once, so a proxied request does no label hashing. */
export interface RouteMetrics {
  answered(req: IncomingMessage, status: number): void;
  failed(req: IncomingMessage, kind: 'timeout' | 'refused'): void;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own: requests by route and status, latency to
 * the upstream's answer by route, upstream failures, answers the gateway gave itself (rejections), JWKS
 * refreshes, and the revocation set's size, last sync age and snapshots loaded (read when scraped, never per
 * request).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Requests counted since the last scrape, by route then status; the counter drains them when read. */
  private readonly pending = new Map<string, Map<number, PendingCount>>();
  private readonly countRejection = this.counter('gateway');
  private readonly latency: LatencyHistogram;
  private readonly upstreamErrors: Counter<'route' | 'kind'>;
  private readonly jwksRefreshes: Counter<'result'>;

  private readonly log: ((req: IncomingMessage, route: string, status: number, ms: number) => void) | undefined;

  constructor(
    options: {
      revocation?: RevocationStats;
      now?: () => number;
      defaultMetrics?: boolean;
      /** Writes one access-log line per request; omit to keep requests out of the log. */
      log?: AccessLog | undefined;
      /** Upstream identity header names, read back for the log's token id and subject. */
      identity?: { tokenId: string; subject: string };
    } = {},
  ) {
    const registers = [this.registry];
    const { log, identity } = options;
    this.log = log
      ? (req, route, status, ms) => {
          const tokenId = identity ? req.headers[identity.tokenId] : undefined;
          const subject = identity ? req.headers[identity.subject] : undefined;
          log({
            requestId: String(req.headers['x-request-id'] ?? ''),
            method: req.method ?? '',
            route,
            status,
            ms,
            tokenId: typeof tokenId === 'string' ? tokenId : undefined,
            subject: typeof subject === 'string' ? subject : undefined,
          });
        }
      : undefined;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_gateway_' });
    const pending = this.pending;
    new Counter({
      name: 'portcullis_gateway_requests_total',
      help: 'Requests by route prefix (or "gateway" for answers the gateway gave itself) and status.',
      labelNames: ['route', 'status'],
      registers,
      collect() {
        for (const byStatus of pending.values()) for (const count of byStatus.values()) count.drainInto(this);
      },
    });
    this.latency = new LatencyHistogram(
      'portcullis_gateway_upstream_latency_seconds',
      "Time from a request's arrival to its upstream's response headers, by route prefix.",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      this.registry,
    );
    this.upstreamErrors = new Counter({
      name: 'portcullis_gateway_upstream_errors_total',
      help: 'Upstream failures by route prefix and kind (refused: 502, timeout: 504).',
      labelNames: ['route', 'kind'],
      registers,
    });
    this.jwksRefreshes = new Counter({
      name: 'portcullis_gateway_jwks_refreshes_total',
      help: 'Fetches of the auth service key set, by result.',
      labelNames: ['result'],
      registers,
    });
    const revocation = options.revocation;
    const now = options.now ?? Date.now;
    new Gauge({
      name: 'portcullis_gateway_revocation_entries',
      help: 'Entries in the in-memory revocation set.',
      registers,
      aggregator: 'max', // GATEWAY_WORKERS: each worker holds the whole set

      collect() {
        this.set(revocation?.size ?? 0);
      },
    });
    new Counter({
      name: 'portcullis_gateway_revocation_snapshots_total',
      help: 'Whole revocation snapshots loaded (from Redis, or the in-process bus): the first, then one per reload (reconnect, lost message, Redis restart, resync).',
      registers,

      collect() {
        this.reset();
        this.inc(revocation?.snapshots ?? 0);
      },
    });
    new Counter({
      name: 'portcullis_gateway_revocation_reloads_total',
      help: 'Reloads of the whole revocation set after the first load, by reason: reconnect, sequence_gap (a lost message), messages_missing (announced by the counter, not arrived a heartbeat later), redis_reset, rebuild.',
      labelNames: ['reason'],
      registers,

      collect() {
        this.reset();
        for (const [reason, count] of revocation?.reloads ?? []) this.inc({ reason }, count);
      },
    });
    new Gauge({
      name: 'portcullis_gateway_revocation_sync_age_seconds',
      help: 'Seconds since the revocation set last heard from Redis (or the in-process bus); -1 before the first contact.',
      registers,
      aggregator: 'max', // GATEWAY_WORKERS: the stalest worker

      collect() {
        const last = revocation?.lastContactAt;
        this.set(last === undefined ? -1 : (now() - last) / 1000);
      },
    });
  }

  /** Counts one request of `route` answered with `status`. */
  private counter(route: string): (status: number) => void {
    const counts = this.pending.get(route) ?? new Map<number, PendingCount>();
    this.pending.set(route, counts);
    return (status) => {
      let count = counts.get(status);
      if (count === undefined) counts.set(status, (count = new PendingCount({ route, status: String(status) })));
      count.inc();
    };
  }

  forRoute(prefix: string): RouteMetrics {
    const count = this.counter(prefix);
    const latency = this.latency.series({ route: prefix });
    const refused = this.upstreamErrors.labels(prefix, 'refused');
    const timeout = this.upstreamErrors.labels(prefix, 'timeout');
    const log = this.log;
    return {
      answered(req, status) {
        count(status);
        const ms = elapsedMs(req);
        if (ms !== undefined) latency.observe(ms / 1000);
        log?.(req, prefix, status, ms ?? 0);
      },
      failed(req, kind) {
        const status = kind === 'timeout' ? 504 : 502;
        (kind === 'timeout' ? timeout : refused).inc();
        count(status);
        log?.(req, prefix, status, elapsedMs(req) ?? 0);
      },
    };
  }

  /** An answer the gateway gave itself (401, 403, 404, 503...). */
  gatewayAnswered(req: IncomingMessage, status: number): void {
    this.countRejection(status);
    this.log?.(req, 'gateway', status, elapsedMs(req) ?? 0);
  }

  jwksRefreshed(ok: boolean): void {
    this.jwksRefreshes.inc({ result: ok ? 'ok' : 'failed' });
  }
}
