import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { hostProblem, oauthErrorBody } from '@portcullis/errors';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { TokenEndpoint, TokenRequestInput } from '../routes/token.js';
import type { AccessEntry } from './access-log.js';
import { MAX_BODY_BYTES, decodeBody, parseForm, parseJson } from './body.js';
import { BodyError, classify } from './errors.js';
import type { AuthMetrics } from './metrics.js';
import { requestIdFrom } from './request-id.js';

/** The token endpoint's path, and its route template in access lines and metrics. */
export const TOKEN_PATH = '/auth/v1/token';

export interface TokenFastPathOptions {
  endpoint: TokenEndpoint;
  /** express's compiled `trust proxy` (`app.get('trust proxy fn')`): the client address reads as `req.ip` would. */
  trust: (address: string, hop: number) => boolean;
  /** What helmet sets on every answer, as a flat `[name, value, ...]` list (see headersSetBy). */
  securityHeaders: readonly string[];
  accessLine: (entry: AccessEntry) => void;
  metrics: AuthMetrics;
  log: Logger;
}

type BodyKind = 'form' | 'json';

const LENGTH_RE = /^[1-9][0-9]{0,5}$/;
const UTF8_CHARSET_RE = /^charset=(?:utf-8|"utf-8")$/i;

/**
 * The body's kind when the fast path takes the request; undefined leaves it to express. Taken: a POST to
 * the exact path with a form or JSON body of known length within the limit, in UTF-8, not compressed,
 * not chunked. Everything else (another charset, `Content-Encoding`, `Transfer-Encoding`, a trailing
 * slash, a query, no body, a body over the limit, another media type, a missing or repeated Host) gets
 * express's answer, unchanged.
 */
export function fastBodyKind(req: IncomingMessage): BodyKind | undefined {
  if (req.method !== 'POST' || req.url !== TOKEN_PATH || hostProblem(req) !== undefined) return undefined;
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return undefined;
  const length = headers['content-length'];
  if (length === undefined || !LENGTH_RE.test(length) || Number(length) > MAX_BODY_BYTES) return undefined;
  const type = headers['content-type'];
  if (type === undefined) return undefined;
  const semicolon = type.indexOf(';');
  if (semicolon !== -1 && !UTF8_CHARSET_RE.test(type.slice(semicolon + 1).trim())) return undefined;
  const media = (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase();
  if (media === 'application/x-www-form-urlencoded') return 'form';
  if (media === 'application/json') return 'json';
  return undefined;
}

/**
 * The headers a middleware sets on an answer, read once from a response it is given at start-up: helmet's
 * defaults are the same for every request, so the fast path sends the list instead of running helmet's
 * dozen middlewares per exchange. A middleware that fails or does not finish synchronously is refused.
 */
export function headersSetBy(middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void): string[] {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  let done = false;
  middleware(res.req, res, (error) => {
    done = error === undefined;
  });
  if (!done) throw new Error('the security headers middleware failed or did not finish synchronously');
  // getRawHeaderNames (Node 15.13+, missing from @types/node 20) keeps the names as helmet wrote them.
  const names = (res as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
  return names.flatMap((name) => {
    const value = res.getHeader(name) ?? '';
    return Array.isArray(value) ? value.flatMap((v) => [name, v]) : [name, String(value)];
  });
}

const NO_BYTES = Buffer.alloc(0);

/** The whole body (its length is known and within the limit), or BodyError when the client went away first. */
function readBody(req: IncomingMessage, done: (error: BodyError | undefined, bytes: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let settled = false;
  req.on('data', (chunk: Buffer) => void chunks.push(chunk));
  req.once('end', () => {
    if (settled) return;
    settled = true;
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  });
  req.once('error', () => {
    if (settled) return;
    settled = true;
    done(new BodyError('request.aborted'), NO_BYTES);
  });
}

/**
 * `POST /auth/v1/token` straight from node:http, ahead of express: the request id, helmet's headers, the
 * access line, the request metrics, the body parsing and the error shape are the ones express's stack
 * gives this route, and the exchange itself is the same function (routes/token.ts). Express's router,
 * its per-request set-up, body-parser's streams and the ETag of `res.json` were about a third of a
 * repeated exchange's CPU. The one difference a client can see: the fast path sends no ETag, which means
 * nothing on a `no-store` answer to a POST.
 *
 * Returns false, having touched nothing, for a request it leaves to express (see fastBodyKind).
 */
export function tokenFastPath(options: TokenFastPathOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { endpoint, trust, securityHeaders, accessLine, metrics, log } = options;

  // Never throws: it runs in event and promise callbacks, where a throw would take the process down.
  const answer = (res: ServerResponse, id: string, status: number, headers: Readonly<Record<string, string>>, body: unknown): void => {
    try {
      const json = JSON.stringify(body);
      const list = ['X-Request-Id', id, ...securityHeaders];
      for (const [name, value] of Object.entries(headers)) list.push(name, value);
      list.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(json)));
      res.writeHead(status, list);
      res.end(json);
    } catch (error) {
      log.error({ err: error, requestId: id }, 'answer failed');
      res.destroy();
    }
  };

  // errors.ts's errorHandler and sendError, for an OAuth route.
  const fail = (res: ServerResponse, id: string, error: unknown): void => {
    const err = classify(error);
    if (err.status >= 500) log.error({ err: err.cause ?? err, requestId: id }, 'request failed');
    answer(res, id, err.status, { ...err.headers, 'Cache-Control': 'no-store' }, oauthErrorBody(err.code, err.message, id));
  };

  return (req, res) => {
    const kind = fastBodyKind(req);
    if (kind === undefined) return false;
    const started = performance.now();
    const id = requestIdFrom(req.headers['x-request-id']);
    const observe = metrics.requests.startTimer();
    res.once('finish', () => observe({ method: 'POST', route: TOKEN_PATH, status: String(res.statusCode) }));
    res.once('close', () => {
      accessLine({ id, method: 'POST', route: TOKEN_PATH, principal: undefined, status: res.statusCode, started, aborted: !res.writableFinished });
    });
    readBody(req, (error, bytes) => {
      if (error !== undefined) return fail(res, id, error);
      let input: TokenRequestInput;
      try {
        const text = decodeBody(bytes);
        const body = kind === 'form' ? parseForm(text) : parseJson(text);
        input = { body, ip: proxyaddr(req, trust) ?? 'unknown', appHeader: req.headers['x-app-name'] };
      } catch (readError) {
        return fail(res, id, readError);
      }
      endpoint(input).then(
        (done) => answer(res, id, 200, done.headers, done.body),
        (failure: unknown) => fail(res, id, failure),
      );
    });
    return true;
  };
}
