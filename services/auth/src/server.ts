import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createHttpServer } from '@portcullis/errors';
import type { AuthApp } from './app.js';

/** Listens on host:port (port 0 = any free one) and resolves with the bound URL. */
export async function listen(app: AuthApp, port: number, host: string): Promise<{ server: Server; url: string }> {
  const server = createHttpServer(app, app.renderError);
  // Keep-alive sockets from a proxy in front must outlive its own idle timeout (Node's default is 5 s).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${shownHost}:${bound}` };
}

/** Stops accepting, lets in-flight requests finish up to `timeoutMs`, then closes what is left. */
export async function drain(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
