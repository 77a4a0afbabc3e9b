import { ConfigError, redisTarget } from '@portcullis/config';
import { loadAuthConfig, startAuth, createLogger } from '@portcullis/auth';
import { createGatewayLogger, loadGatewayConfig, startGateway } from '@portcullis/gateway';
import { MemoryRevocationBus, type RevocationSource, connectRevocationSource, hasRedis } from '@portcullis/revocation';
import { listenEcho } from './echo.js';

/**
 * `npm start`: auth, gateway and an example upstream in one process with embedded defaults — PGlite
 * in DATA_DIR and an in-process revocation bus — unless DATABASE_URL / REDIS_URL / UPSTREAM_URL say
 * otherwise. The same services as in production, wired once here.
 */
async function main(): Promise<void> {
  const env = process.env;
  const problems: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const authConfig = attempt(() => loadAuthConfig(env));
  // The gateway's defaults follow the auth service of this process; UPSTREAM_URL is filled in below.
  const gatewayEnv = { UPSTREAM_URL: 'http://127.0.0.1:1', ...env, AUTH_URL: env.AUTH_URL ?? `http://127.0.0.1:${authConfig?.AUTH_PORT ?? 8081}` };
  const gatewayCheck = attempt(() => loadGatewayConfig(gatewayEnv));
  if (gatewayCheck && gatewayCheck.workers > 1) {
    problems.push('GATEWAY_WORKERS: npm start runs one gateway in this process; run services/gateway for several workers');
  }
  if (problems.length > 0 || !authConfig || !gatewayCheck) {
    process.stderr.write(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(2);
  }

  const echo = env.UPSTREAM_URL || env.ROUTES_FILE ? undefined : await listenEcho();
  const bus = hasRedis(redisTarget(authConfig)) ? undefined : new MemoryRevocationBus();
  const authLog = createLogger(authConfig.LOG_LEVEL, 'auth');
  const auth = await startAuth(authConfig, {
    log: authLog,
    ...(bus ? { bus } : {}),
    onFirstAdmin: (admin) => {
      // Printed once, to the terminal only, never through the logger.
      const password = admin.generatedPassword ?? '(the ADMIN_PASSWORD you set)';
      process.stdout.write(`\nFirst admin created\n  email:    ${admin.email}\n  password: ${password}\n\n`);
    },
  });

  const gatewayConfig = loadGatewayConfig({ ...gatewayEnv, ...(echo ? { UPSTREAM_URL: echo.url } : {}) });
  const logger = createGatewayLogger({ level: gatewayConfig.logLevel, patHeader: gatewayConfig.patHeader });
  let source: RevocationSource;
  let closeRedis = async (): Promise<void> => {};
  if (bus || !hasRedis(gatewayConfig.redis)) {
    source = (bus ?? new MemoryRevocationBus()).source();
  } else {
    const connection = connectRevocationSource(gatewayConfig.redis, (error) => logger.warn({ err: error }, 'revocation sync: redis problem; retrying'));
    source = connection.source;
    closeRedis = connection.close;
  }
  const gateway = await startGateway(gatewayConfig, { logger, revocationSource: source });

  process.stdout.write(
    [
      'Portcullis is running',
      `  gateway:  ${gateway.url}   (send requests here)`,
      `  auth:     ${auth.url}   (also reachable through the gateway)`,
      `  upstream: ${echo ? `${echo.url}   (built-in echo service)` : (env.UPSTREAM_URL ?? 'from ROUTES_FILE')}`,
      `  store:    ${authConfig.DATABASE_URL ? 'PostgreSQL at DATABASE_URL' : `PGlite in ${authConfig.DATA_DIR}`}`,
      `  revocations: ${bus ? 'in-process bus' : describeRedis(authConfig)}`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    authLog.info({ signal }, 'shutting down');
    void (async () => {
      await gateway.close();
      await auth.close();
      await closeRedis();
      await echo?.close();
      process.exit(0);
    })().catch((error: unknown) => {
      authLog.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`portcullis failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

function describeRedis(config: { REDIS_SENTINELS?: unknown; REDIS_CLUSTER_NODES?: unknown }): string {
  if (config.REDIS_CLUSTER_NODES) return 'Redis Cluster through REDIS_CLUSTER_NODES';
  return config.REDIS_SENTINELS ? 'Redis through REDIS_SENTINELS' : 'Redis at REDIS_URL';
}
