import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { addGatewayHeaders, withGatewayHeaders } from './gateway-headers.js';

/**
 * http-proxy-middleware by itself, the way the issue measured its best figure: 3.x with `ejectPlugins`,
 * called straight from a plain `node:http` server, no framework, no auth. The gateway forwards with the
 * same library, so this is the ceiling of any gateway built on it. Same keep-alive agent as the bare proxy;
 * the one plugin answers 502 when the upstream fails (the ejected defaults did that).
 *
 * With GATEWAY_HEADERS=1 it first adds the gateway's eight request headers to the request, as the gateway
 * does before it hands the request over, and sets the request id on the answer: the ceiling of a gateway
 * on this library that sends what the gateway must send, before any check runs.
 */
const middleware = createProxyMiddleware({
  target: process.env.UPSTREAM_URL,
  changeOrigin: true,
  agent: new Agent({ keepAlive: true }),
  ejectPlugins: true,
  plugins: [
    (proxyServer) => {
      proxyServer.on('error', (_error, _req, res) => {
        if ('writeHead' in res && !res.headersSent) res.writeHead(502);
        res.end();
      });
    },
  ],
});
const server = createServer((req, res) => {
  if (withGatewayHeaders) res.setHeader('x-request-id', addGatewayHeaders(req.headers, req));
  void middleware(req, res, () => {
    res.writeHead(404);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
