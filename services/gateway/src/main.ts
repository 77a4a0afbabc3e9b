import { ConfigError } from '@portcullis/config';
import { MemoryRevocationBus, type RevocationSource, connectRevocationSource, hasRedis } from '@portcullis/revocation';
import { type GatewayConfig, loadGatewayConfig } from './config.js';
import { createGatewayLogger } from './logger.js';
import { isClusterPrimary, runPrimary } from './cluster.js';
import { startGateway } from './start.js';

/**
 * The gateway on its own (`node services/gateway/src/main.ts`, or the container): reads the environment,
 * opens Redis, listens, and drains on SIGTERM; with GATEWAY_WORKERS > 1 it is the primary of that many such
 * processes (see cluster.ts). The only module that reads process.env.
 */
function readConfig(): GatewayConfig {
  try {
    return loadGatewayConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2); // as auth and npm start: 2 = bad configuration
    }
    throw error;
  }
}

const config = readConfig();
const logger = createGatewayLogger({ level: config.logLevel, patHeader: config.patHeader });
if (isClusterPrimary(config.workers)) runPrimary(config.workers, logger);
else await serve();

/** One gateway: this process alone, or one of GATEWAY_WORKERS. */
async function serve(): Promise<void> {
  let source: RevocationSource;
  let closeRedis = async (): Promise<void> => {};
  if (hasRedis(config.redis)) {
    const connection = connectRevocationSource(config.redis, (error) => logger.warn({ err: error }, 'revocation sync: redis problem; retrying'));
    source = connection.source;
    closeRedis = connection.close;
  } else {
    logger.warn('REDIS_URL is not set: revocations made by a separate auth process will not reach this gateway');
    source = new MemoryRevocationBus().source();
  }

  const gateway = await startGateway(config, { logger, revocationSource: source, clusterWorker: config.workers > 1 });

  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    await gateway.close();
    await closeRedis();
    logger.info('stopped');
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
