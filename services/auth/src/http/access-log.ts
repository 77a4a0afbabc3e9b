import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Principal } from '../domain/principal.js';

/** What an access line says of one request, once its answer is complete (or the client went away). */
export interface AccessEntry {
  id: string;
  method: string;
  /** The route template, or `unmatched`. */
  route: string;
  principal: Principal | undefined;
  status: number;
  /** `performance.now()` when the request arrived. */
  started: number;
  aborted: boolean;
}

/**
 * One JSON line per request: request id, method, route template, status, latency in ms, and the token id
 * and subject when authenticated (`{"req":{"id","method"},"res":{"status"},"responseTime","route",...}`,
 * the shape pino-http wrote). Every field is assembled here from values that are never credentials
 * (headers, bodies and query strings are never read), so these lines skip the logger's redaction pass,
 * and no per-request child logger is made: pino-http cost about a fifth of a repeated exchange's CPU.
 * A client that goes away before the answer is complete is logged as `request aborted`.
 */
export function accessLines(log: Logger): (entry: AccessEntry) => void {
  const lines = log.child({}, { redact: [] });
  return ({ id, method, route, principal, status, started, aborted }) => {
    const line = {
      req: { id, method },
      res: { status },
      responseTime: Math.round(performance.now() - started),
      route,
      ...(principal ? { tokenId: principal.tokenId, subject: principal.actorId } : {}),
    };
    if (aborted) lines.warn(line, 'request aborted');
    else if (status >= 500) lines.error(line, 'request failed');
    else lines.info(line, 'request');
  };
}

/** The route template express matched, as access lines and metrics label requests (never the raw path). */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : 'unmatched';
}

/** The access log of every request express serves (the token endpoint's fast path writes its own). */
export function accessLog(log: Logger) {
  const write = accessLines(log);
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.once('close', () => {
      write({ id: req.id, method: req.method, route: routeOf(req), principal: req.principal, status: res.statusCode, started, aborted: !res.writableFinished });
    });
    next();
  };
}
