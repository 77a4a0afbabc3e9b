/**
 * The example upstream on its own, for the compose stack: `node services/standalone/dist/echo-main.js`.
 * Listens on every interface (ECHO_HOST narrows it) so the gateway's container can reach it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { echoHandler } from './echo.js';

const DEFAULT_ECHO_PORT = 8090;

function readPort(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_ECHO_PORT;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65_535) {
    process.stderr.write(`Invalid echo configuration:\n  - ECHO_PORT: expected a port number, got "${text}"\n`);
    process.exit(2);
  }
  return Number(text);
}

const server = createServer(echoHandler());
server.listen(readPort(process.env.ECHO_PORT), process.env.ECHO_HOST || undefined, () => {
  process.stdout.write(`echo upstream listening on port ${(server.address() as AddressInfo).port}\n`);
});

// As PID 1 in a container Node has no default SIGTERM handling: without this, `docker stop` waits 10s.
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
