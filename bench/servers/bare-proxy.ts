import { type IncomingHttpHeaders, Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addGatewayHeaders, withGatewayHeaders } from './gateway-headers.js';

/**
 * The Node ceiling: a reverse proxy on bare `node:http` with a keep-alive agent to the upstream, no
 * framework, no checks. It still does what any correct proxy must (drops hop-by-hop headers, answers 502
 * when the upstream fails), so it is a floor for the work a real gateway does, not a shortcut.
 *
 * With GATEWAY_HEADERS=1 (a candidate that is not judged) it also sends the eight request headers the
 * gateway adds to every proxied request (X-Request-Id, the four identity headers, three X-Forwarded-*),
 * with values as long as the gateway's, and echoes the request id to the client: what those headers cost
 * node:http by themselves, apart from any check.
 */
const upstream = new URL(process.env.UPSTREAM_URL ?? '');
const agent = new Agent({ keepAlive: true });
// RFC 9110 §7.6.1: connection-specific fields are not forwarded.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const name of HOP_BY_HOP) delete out[name];
  return out;
}

const server = createServer((req, res) => {
  const headers = forwardable(req.headers);
  headers.host = upstream.host;
  const requestId = withGatewayHeaders ? addGatewayHeaders(headers, req) : undefined;
  const outgoing = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      const answerHeaders = forwardable(answer.headers);
      if (requestId !== undefined) answerHeaders['x-request-id'] = requestId;
      res.writeHead(answer.statusCode ?? 502, answerHeaders);
      answer.pipe(res);
    },
  );
  outgoing.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(outgoing);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
