import { HttpError } from '@portcullis/errors';
import express, { type NextFunction, type Request, type Response } from 'express';

/** Management and token bodies are small; anything larger is refused before it is read. */
export const MAX_BODY_BYTES = 16 * 1024;
const MAX_FORM_PARAMETERS = 32;

const json = express.json({ limit: MAX_BODY_BYTES, strict: true, type: ['application/json', 'application/*+json'] });
const form = express.urlencoded({ extended: false, limit: MAX_BODY_BYTES, parameterLimit: MAX_FORM_PARAMETERS });

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Parses JSON (and, where `allowForm`, urlencoded forms); any other media type with a body is 415. */
export function parseBody(allowForm: boolean) {
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      if (!hasBody(req)) {
        req.body = {};
        next();
        return;
      }
      const isJson = req.is(['application/json', 'application/*+json']) !== false;
      const isForm = allowForm && req.is('application/x-www-form-urlencoded') !== false;
      if (!isJson && !isForm) {
        next(new HttpError('unsupported_media_type', allowForm ? 'Send application/x-www-form-urlencoded or application/json' : 'Send application/json'));
        return;
      }
      next();
    },
    json,
    ...(allowForm ? [form] : []),
    (req: Request, _res: Response, next: NextFunction) => {
      if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
        next(new HttpError('invalid_request', 'The request body must be a JSON object'));
        return;
      }
      next();
    },
  ];
}
