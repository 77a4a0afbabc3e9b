import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/**
 * One JSON line per request (pino-http): request id, method, route template, status, latency, and the
 * token id and subject when authenticated. Headers and bodies are never serialised, so no credential can
 * reach the log through them; the logger's redact paths are the second line of defence.
 */
export function accessLog(log: Logger) {
  return pinoHttp<Request, Response>({
    logger: log,
    genReqId: (req) => req.id,
    quietReqLogger: true,
    serializers: {
      req: (req: { id: string; method: string }) => ({ id: req.id, method: req.method }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request failed',
    customProps: (req) => ({
      route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched',
      ...(req.principal ? { tokenId: req.principal.tokenId, subject: req.principal.actorId } : {}),
    }),
  });
}
