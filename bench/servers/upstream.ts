import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { echoHandler } from '../../services/standalone/src/echo.js';

/**
 * The one upstream every candidate forwards to: a fixed 12-byte JSON answer, so the upstream costs as
 * little as possible and the figures are the proxies' own. `ECHO_PATH` answers what it received
 * instead (the standalone echo), which the bench uses to check the headers a candidate forwards.
 */
export const ECHO_PATH = '/bench/__echo';
const BODY = Buffer.from('{"ok":true}\n');
const HEADERS = { 'Content-Type': 'application/json', 'Content-Length': String(BODY.length) };

const echo = echoHandler();
const server = createServer((req, res) => {
  if (req.url === ECHO_PATH) return echo(req, res);
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
