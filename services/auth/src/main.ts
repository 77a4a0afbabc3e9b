import { ConfigError } from '@portcullis/config';
import { loadAuthConfig } from './config.js';
import { createLogger } from './logger.js';
import { startAuth } from './start.js';

/** The auth service on its own: `node services/auth/dist/main.js` (or via tsx in development). */
async function main(): Promise<void> {
  let config;
  try {
    config = loadAuthConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.LOG_LEVEL, 'auth');
  const auth = await startAuth(config, {
    log,
    onFirstAdmin: (admin) => {
      // Printed once, to the terminal only, never through the logger.
      if (admin.generatedPassword) process.stdout.write(`\nFirst admin created: ${admin.email}\nPassword (shown once): ${admin.generatedPassword}\n\n`);
      else log.info({ email: admin.email }, 'first admin created');
    },
  });
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    auth.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`auth failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
