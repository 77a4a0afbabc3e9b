import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from 'pino';

/**
 * GATEWAY_WORKERS > 1: one primary process forks that many gateways, which share the listening port
 * (node:cluster hands connections out round-robin). Each worker is a whole gateway with its own caches and
 * its own subscription to the revocation set in Redis, so a revocation reaches every worker as it reaches
 * every gateway. The primary serves nothing itself: it restarts a worker that dies, aggregates `/metrics`
 * for whichever worker was asked, and on SIGTERM lets every worker drain before it exits.
 */

const METRICS_REQUEST = 'portcullis:metrics-request';
const METRICS_REPLY = 'portcullis:metrics-reply';
/** A worker that keeps dying is restarted at most this often. */
const RESTART_DELAY_MS = 1000;
/** A worker that dies sooner than this after its start did not start at all (a taken port, say)... */
const EARLY_DEATH_MS = 10_000;
/** ...and after this many such deaths in a row the primary gives up (exit 1) instead of looping. */
const MAX_EARLY_DEATHS = 5;

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof METRICS_REPLY;
  id: number;
  text?: string;
  error?: string;
}

export function isClusterPrimary(workers: number): boolean {
  return workers > 1 && cluster.isPrimary;
}

/** Runs the primary: forks, restarts, aggregates metrics, drains on SIGTERM/SIGINT, then exits 0. */
export function runPrimary(workers: number, logger: Logger): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let earlyDeaths = 0;
  const startedAt = new Map<number, number>();

  const fork = (): Worker => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
    worker.on('message', (message: MetricsRequest) => {
      if (message?.type !== METRICS_REQUEST) return;
      const reply = (body: Omit<MetricsReply, 'type' | 'id'>): void => {
        if (worker.isConnected()) worker.send({ type: METRICS_REPLY, id: message.id, ...body } satisfies MetricsReply);
      };
      aggregator.clusterMetrics().then(
        (text) => reply({ text }),
        (error: unknown) => reply({ error: error instanceof Error ? error.message : String(error) }),
      );
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('stopped');
        process.exit(process.exitCode ?? 0);
      }
      return;
    }
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    earlyDeaths = lived < EARLY_DEATH_MS ? earlyDeaths + 1 : 0;
    if (earlyDeaths >= MAX_EARLY_DEATHS) {
      logger.fatal({ code, signal, deaths: earlyDeaths }, 'gateway workers keep dying at start; giving up');
      stopping = true;
      for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
      process.exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'gateway worker died; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS);
  });

  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'draining workers');
    const running = Object.values(cluster.workers ?? {});
    if (running.length === 0) process.exit(0);
    for (const worker of running) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  logger.info({ workers }, 'starting gateway workers');
  for (let i = 0; i < workers; i += 1) fork();
}

/**
 * In a worker: lets the primary collect this worker's registry, and returns what `/metrics` should serve,
 * the sum over every worker (gauges declare their own aggregation).
 */
export function clusterMetrics(registry: Registry, timeoutMs = 5000): () => Promise<string> {
  new AggregatorRegistry(); // installs prom-client's worker-side listener
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on('message', (message: MetricsReply) => {
    if (message?.type !== METRICS_REPLY) return;
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.text !== undefined) waiting.resolve(message.text);
    else waiting.reject(new Error(message.error ?? 'no metrics from the primary'));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the primary did not aggregate metrics in time'));
      }, timeoutMs);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
}
