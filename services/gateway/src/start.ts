import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHttpServer } from '@portcullis/errors';
import { createVerifier } from '@portcullis/jwt';
import { RevocationSet, type RevocationSource } from '@portcullis/revocation';
import type { Logger } from 'pino';
import { createAccessLog } from './access-log.js';
import { type GatewayApp, createApp } from './app.js';
import { Authenticator, type RevocationCheck } from './authenticate.js';
import type { GatewayConfig } from './config.js';
import { requestIdFor } from './forward-headers.js';
import { JwksCache } from './jwks.js';
import { clusterMetrics } from './cluster.js';
import { GatewayMetrics } from './metrics.js';
import { PatExchanger } from './pat-exchange.js';
import { UpstreamAgents } from './upstream-agents.js';
import { errorResponse } from './respond.js';
import { isWebSocketUpgrade, serveWithoutUpgrade } from './upgrade.js';

interface CommonDeps {
  logger: Logger;
  /** JWKS and PAT exchange calls; default the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Epoch milliseconds; default Date.now. Tests inject it to move time without sleeping. */
  now?: () => number;
  /** This process is one of GATEWAY_WORKERS: `/metrics` serves the sum over every worker. */
  clusterWorker?: boolean;
}

/**
 * Where revocations come from. Normally a source (Redis, or `MemoryRevocationBus.source()` in one process):
 * the gateway builds its RevocationSet on it and owns its lifecycle. Tests may pass a ready-made check.
 */
export type StartGatewayDeps = CommonDeps &
  ({ revocationSource: RevocationSource; revocation?: never } | { revocation: RevocationCheck; revocationSource?: never });

export interface RunningGateway {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:<port>` (or the bound host). */
  readonly url: string;
  readonly app: GatewayApp;
  readonly jwks: JwksCache;
  readonly pats: PatExchanger;
  readonly authenticator: Authenticator;
  readonly revocation: RevocationCheck;
  /** Stops accepting, lets in-flight requests finish within SHUTDOWN_GRACE, then closes the rest. */
  close(): Promise<void>;
}

/**
 * Wires the gateway from its configuration and starts listening. `main.ts` calls it with a Redis source;
 * `services/standalone` calls it with the in-process bus. It never reads the environment.
 *
 * Start-up does not wait for the auth service or Redis to be reachable: until the key set is loaded and the
 * revocation set is fresh, authenticated routes answer 503 and /readyz says not ready.
 */
export async function startGateway(config: GatewayConfig, deps: StartGatewayDeps): Promise<RunningGateway> {
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const fetch = deps.fetch ?? globalThis.fetch;

  let revocation: RevocationCheck;
  let ownedSet: RevocationSet | undefined;
  if (deps.revocationSource !== undefined) {
    ownedSet = new RevocationSet({ source: deps.revocationSource, stalenessMs: config.revocationStalenessMs, now });
    revocation = ownedSet;
    // A source that cannot load yet (Redis down) keeps retrying; meanwhile the gateway fails closed.
    await ownedSet.start().catch((error: unknown) => logger.warn({ err: error }, 'revocation set not loaded yet'));
  } else {
    revocation = deps.revocation;
  }

  const metrics = new GatewayMetrics({
    revocation: ownedSet,
    now,
    identity: config.identityHeaders,
    log: config.accessLog ? createAccessLog(logger) : undefined,
  });
  const jwks = new JwksCache({
    url: config.jwksUrl,
    fetch,
    now,
    minRefetchIntervalMs: config.jwksMinRefetchIntervalMs,
    logger,
    onFetched: (ok) => metrics.jwksRefreshed(ok),
  });
  await jwks.refresh();
  jwks.startTimer(config.jwksRefreshIntervalMs);

  const verify = createVerifier({
    issuer: config.issuer,
    audience: config.audience,
    keyFor: jwks.keyFor,
    clockToleranceSec: config.clockToleranceSec,
    now: () => Math.floor(now() / 1000),
  });
  const pats = new PatExchanger({
    authUrl: config.authUrl,
    fetch,
    now,
    refreshMarginMs: config.patRefreshMarginMs,
    maxEntries: config.patCacheSize,
    logger,
  });
  const authenticator = new Authenticator({
    verify,
    jwks,
    revocation,
    failOpen: config.revocationFailOpen,
    pats,
    patPrefix: config.patPrefix,
    clockToleranceSec: config.clockToleranceSec,
    maxCachedTokens: config.tokenCacheSize,
    now,
  });
  jwks.onKeysRemoved(() => authenticator.forgetVerifiedTokens());

  const agents = new UpstreamAgents();
  const metricsText = deps.clusterWorker ? clusterMetrics(metrics.registry) : undefined;
  const app = createApp({ config, authenticator, jwks, revocation, agents, logger, metrics, now, ...(metricsText ? { metricsText } : {}) });
  const server = createHttpServer(app.handleRequest, (code, message, req) => errorResponse(code, message, req ? requestIdFor(req) : randomUUID()));
  // Upgraded sockets leave the HTTP server's bookkeeping: tracked here so shutdown can close them.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!isWebSocketUpgrade(req)) return serveWithoutUpgrade(server, req, socket, head);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    app.handleUpgrade(req, socket, head);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // The port is taken (or the like): release what was started, then report.
    jwks.stopTimer();
    agents.destroy();
    await ownedSet?.stop();
    throw error;
  }
  const { port, address, family } = server.address() as AddressInfo;
  const host = address === '::' || address === '0.0.0.0' ? '127.0.0.1' : family === 'IPv6' ? `[${address}]` : address;
  logger.info({ port, routes: config.routes.map((r) => `${r.prefix} -> ${r.upstream}`) }, 'gateway listening');

  let closing: Promise<void> | undefined;
  async function drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), config.shutdownGraceMs);
    });
    if ((await Promise.race([closed, grace])) === 'timeout') {
      logger.warn('shutdown grace elapsed: closing remaining connections');
      server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      await closed;
    }
    clearTimeout(timer);
    jwks.stopTimer();
    agents.destroy();
    await ownedSet?.stop();
  }

  return {
    server,
    port,
    url: `http://${host}:${port}`,
    app,
    jwks,
    pats,
    authenticator,
    revocation,
    close: () => (closing ??= drain()),
  };
}
