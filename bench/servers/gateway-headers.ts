import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * The eight request headers the gateway adds to every proxied request (X-Request-Id, the four identity
 * headers, three X-Forwarded-*), with values as long as the gateway's, for the bench's candidates that
 * price those headers apart from any check (GATEWAY_HEADERS=1). Returns the request id, which the
 * candidate also echoes to the client, as the gateway does.
 */
export const withGatewayHeaders = process.env.GATEWAY_HEADERS === '1';

// Identity values shaped like a bench session's: user, organization and token ids are UUIDs.
const IDENTITY = {
  'x-auth-subject': randomUUID(),
  'x-auth-org': randomUUID(),
  'x-auth-token-id': randomUUID(),
  'x-auth-scope': 'bench:read',
};

/** Their names, which the bench checks the upstream receives from every candidate that sends them. */
export const GATEWAY_HEADER_NAMES = ['x-request-id', ...Object.keys(IDENTITY), 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host'];

export function addGatewayHeaders(headers: IncomingHttpHeaders, req: IncomingMessage): string {
  const requestId = randomUUID();
  headers['x-request-id'] = requestId;
  Object.assign(headers, IDENTITY);
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = req.headers.host ?? '';
  return requestId;
}
