import { type ErrorCode, HttpError, errorBody, oauthErrorBody } from '@portcullis/errors';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/** Marks a route as an OAuth endpoint: its errors use RFC 6749 names (`error`, `error_description`). */
export function oauthErrors(_req: Request, res: Response, next: NextFunction): void {
  res.locals.oauth = true;
  next();
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** A body the token endpoint's fast path could not read, named by body-parser's error `type` for the same case. */
export class BodyError extends Error {
  constructor(readonly type: 'entity.parse.failed' | 'parameters.too.many' | 'request.aborted') {
    super(type);
    this.name = 'BodyError';
  }
}

/**
 * body-parser's other client errors carry no `type`: a compressed body that does not inflate is zlib's
 * error with `status: 400, expose: true` (http-errors' mark of an error meant for the client).
 */
function clientBodyError(error: unknown): HttpError | undefined {
  const { status, expose } = (error ?? {}) as BodyParserError & { expose?: unknown };
  if (expose !== true || typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return new HttpError('payload_too_large', 'The request body is too large');
  if (status === 415) return new HttpError('unsupported_media_type', 'Unsupported body encoding');
  return new HttpError('invalid_request', 'The request body could not be read');
}

/** Any error as the HttpError it is answered with: body-parser's by their `type`, the unknown as a 500. */
export function classify(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  // express's router could not percent-decode a path parameter (it marks the URIError with status 400).
  if (error instanceof URIError && (error as BodyParserError).status === 400) {
    return new HttpError('invalid_request', 'The path is not valid percent-encoding');
  }
  const type = (error as BodyParserError | null)?.type;
  switch (type) {
    case 'entity.parse.failed':
      return new HttpError('invalid_request', 'The request body is not valid JSON');
    case 'entity.too.large':
      return new HttpError('payload_too_large', 'The request body is too large');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new HttpError('unsupported_media_type', 'Unsupported body encoding');
    case 'parameters.too.many':
      return new HttpError('invalid_request', 'Too many form parameters');
    case 'request.aborted':
    case 'stream.encoding.set':
      return new HttpError('invalid_request', 'The request body could not be read');
    default:
      return clientBodyError(error) ?? new HttpError('internal_error', 'Internal server error', { cause: error });
  }
}

export function sendError(res: Response, code: ErrorCode, message: string, requestId: string, details?: HttpError['details']): void {
  const err = new HttpError(code, message, details ? { details } : {});
  res.status(err.status);
  if (res.locals.oauth === true) {
    res.setHeader('Cache-Control', 'no-store');
    res.json(oauthErrorBody(code, message, requestId));
  } else {
    res.json(errorBody(code, message, requestId, details));
  }
}

/** The one error renderer: detail below 500, a generic body and a log line at 500 and above. */
export function errorHandler(log: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const err = classify(error);
    if (err.status >= 500) log.error({ err: err.cause ?? err, requestId: req.id }, 'request failed');
    for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
    if (err.status === 401 && !res.locals.oauth && !res.getHeader('WWW-Authenticate')) {
      res.setHeader('WWW-Authenticate', `Bearer realm="portcullis", error="${err.code === 'unauthorized' ? 'invalid_request' : 'invalid_token'}"`);
    }
    sendError(res, err.code, err.message, req.id, err.details);
  };
}

export function notFound(req: Request, res: Response): void {
  sendError(res, 'not_found', `No route for ${req.method} ${req.path}`, req.id);
}
