import { HttpError } from '@portcullis/errors';
import express, { type NextFunction, type Request, type Response } from 'express';
import qs from 'qs';
import { BodyError } from './errors.js';

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
        next(notAnObject());
        return;
      }
      next();
    },
  ];
}

// What body-parser does to the same bytes, for the token endpoint's fast path (token-fast-path.ts), which
// reads the body itself: body-parser's own stream handling, decoders and type checks were about a tenth
// of a repeated exchange. The express route keeps body-parser; tests feed both the same bodies.

// The four JSON whitespace characters, as body-parser matches them.
const JSON_FIRST_CHAR_RE = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/;

/** A UTF-8 body as body-parser decodes it (iconv-lite): invalid sequences replaced, a leading BOM dropped. */
export function decodeBody(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** `express.urlencoded({ extended: false, parameterLimit })` on a decoded body. */
export function parseForm(text: string): Record<string, unknown> {
  if (text.length === 0) return {};
  let count = 0;
  let index = -1;
  do {
    if (++count > MAX_FORM_PARAMETERS) throw new BodyError('parameters.too.many');
    index = text.indexOf('&', index + 1);
  } while (index !== -1);
  try {
    return qs.parse(text, { allowPrototypes: true, arrayLimit: count, depth: 0, charset: 'utf-8', parameterLimit: MAX_FORM_PARAMETERS, strictDepth: true });
  } catch {
    throw new BodyError('entity.parse.failed');
  }
}

/** `express.json({ strict: true })` on a decoded body, then the same object check as parseBody's. */
export function parseJson(text: string): unknown {
  if (text.length === 0) return {};
  const first = JSON_FIRST_CHAR_RE.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw new BodyError('entity.parse.failed');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BodyError('entity.parse.failed');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw notAnObject();
  return body;
}

function notAnObject(): HttpError {
  return new HttpError('invalid_request', 'The request body must be a JSON object');
}
