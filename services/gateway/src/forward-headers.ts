import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { IdentityHeaderNames } from './config.js';
import type { Identity } from './identity.js';

/**
 * What the upstream sees: headers the gateway controls. The proxy copies `req.headers`, so every change
 * here is made on that object before forwarding (never in a proxy event that might not fire).
 */

// A client's request id is kept when it is a plain token: it ends up in logs and upstream headers.
const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id: the client's, when sane, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
}

/** The request id, set on the request for the upstream. */
export function assignRequestId(req: IncomingMessage): string {
  const id = requestIdFor(req);
  req.headers['x-request-id'] = id;
  return id;
}

export interface HeaderScan {
  /** The request carried Authorization more than once (Node keeps only the first: ambiguous, refuse). */
  duplicateAuthorization: boolean;
  /** Host fields in the request, for the RFC 9112 §3.2 check (`hostCountProblem`). */
  hosts: number;
}

/**
 * Removes every client-sent copy of the identity headers, on every route. Also removes their underscore
 * twins (`X_Auth_Subject`): CGI-style upstreams map `-` and `_` to the same variable, so a twin would
 * spoof the real header. The raw header list is scanned once, counting Authorization and Host fields on
 * the way; identity names are lowercase.
 */
export function stripIdentityHeaders(req: IncomingMessage, names: IdentityHeaderNames, twins: ReadonlySet<string>): HeaderScan {
  const headers = req.headers;
  delete headers[names.subject];
  delete headers[names.org];
  delete headers[names.tokenId];
  delete headers[names.scope];
  let authorizations = 0;
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') authorizations += 1;
    else if (name.length === 4 && name.toLowerCase() === 'host') hosts += 1;
    else if (name.includes('_')) {
      const lower = name.toLowerCase();
      if (twins.has(lower.replaceAll('_', '-'))) delete headers[lower];
    }
  }
  return { duplicateAuthorization: authorizations > 1, hosts };
}

export function setIdentityHeaders(req: IncomingMessage, names: IdentityHeaderNames, identity: Identity): void {
  const headers = req.headers;
  headers[names.subject] = identity.sub;
  headers[names.org] = identity.org;
  if (identity.tid !== undefined) headers[names.tokenId] = identity.tid;
  headers[names.scope] = identity.scope;
}

/**
 * X-Forwarded-For/-Proto/-Host. Behind a trusted proxy (TRUST_PROXY) the client-side values are kept and
 * this hop appended; otherwise whatever the client claimed is replaced, so upstreams can rely on them.
 */
export function setForwardedHeaders(req: IncomingMessage, trustProxy: boolean): void {
  const headers = req.headers;
  const remote = req.socket.remoteAddress ?? '';
  const proto = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (trustProxy) {
    const given = headers['x-forwarded-for'];
    const chain = Array.isArray(given) ? given.join(', ') : given;
    headers['x-forwarded-for'] = chain ? `${chain}, ${remote}` : remote;
    headers['x-forwarded-proto'] ??= proto;
    if (headers.host !== undefined) headers['x-forwarded-host'] ??= headers.host;
    return;
  }
  headers['x-forwarded-for'] = remote;
  headers['x-forwarded-proto'] = proto;
  if (headers.host !== undefined) headers['x-forwarded-host'] = headers.host;
  else delete headers['x-forwarded-host'];
  delete headers.forwarded;
}

const CLOSE_RE = /(?:^|,)\s*close\s*(?:,|$)/i;
const PLAIN_CONNECTION_RE = /^\s*(?:close|keep-alive|upgrade)\s*$/i;

/** Request fields that only concern the client's hop (RFC 9110 §7.6.1), besides Connection itself. */
const HOP_FIELDS = ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'] as const;

/**
 * The fields a client's Connection header may not remove: the message's framing, and what the gateway
 * itself sends the upstream (`identity`: the identity header names).
 */
export function fieldsKeptForUpstream(identity: Iterable<string>): ReadonlySet<string> {
  return new Set(['host', 'content-length', 'transfer-encoding', 'authorization', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', ...identity]);
}

/**
 * Connection options are hop-by-hop: the client's are not the upstream's (RFC 9110 §7.6.1). Removed: the
 * hop-by-hop fields (TE and Trailer too: the gateway does not relay trailers, and node:http refuses to send
 * a Trailer field on a request without a chunked body), and the fields the client's Connection names,
 * except those in `kept`: a client cannot make the gateway drop its own headers or the message's framing.
 * Connection itself is not forwarded as it came (`Connection: x-auth-subject` would make a proxy between
 * the gateway and the upstream drop the identity header): the upstream hop gets only `close` (when the
 * client asked), `upgrade` for WebSockets, or nothing (the keep-alive agent adds its own).
 */
export function normalizeConnectionHeaders(req: IncomingMessage, upgrade: boolean, kept: ReadonlySet<string>): void {
  const headers = req.headers;
  for (const name of HOP_FIELDS) {
    if (headers[name] !== undefined && !(upgrade && name === 'upgrade')) delete headers[name];
  }
  const connection = headers.connection;
  if (connection === undefined) return;
  if (!PLAIN_CONNECTION_RE.test(connection)) {
    for (const option of connection.split(',')) {
      const name = option.trim().toLowerCase();
      if (name !== '' && name !== 'upgrade' && !kept.has(name)) delete headers[name];
    }
  }
  if (upgrade) headers.connection = 'upgrade';
  else if (CLOSE_RE.test(connection)) headers.connection = 'close';
  else delete headers.connection;
}

/** The client address to report to the auth service on a PAT exchange. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const chain = req.headers['x-forwarded-for'];
    const first = typeof chain === 'string' ? chain.split(',')[0]?.trim() : undefined;
    if (first) return first;
  }
  return req.socket.remoteAddress;
}
