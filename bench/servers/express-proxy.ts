import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

/**
 * The usual way to write a Node gateway, without any auth: express 5 with http-proxy-middleware mounted
 * at the root. It gets the same keep-alive upstream agent as the bare proxy (its default, a new upstream
 * connection per request, would measure the missing agent rather than the framework).
 */
const app = express();
app.use(createProxyMiddleware({ target: process.env.UPSTREAM_URL, changeOrigin: true, agent: new Agent({ keepAlive: true }) }));
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
