import { HttpError } from '@portcullis/errors';
import type { NextFunction, Request, Response } from 'express';
import { authenticateSession } from '../domain/authenticate.js';
import { permits } from '../domain/permissions.js';
import type { Principal } from '../domain/principal.js';
import type { AppDeps } from '../deps.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const BEARER_RE = /^Bearer +([^\s]+)$/i;
const RAW_JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The credential in an Authorization header: `Bearer <jwt>`, or a raw `<jwt>` (Appcircle's docs show both).
 * undefined = no header; null = a header that is not one of those shapes.
 */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined || header === '') return undefined;
  const match = BEARER_RE.exec(header);
  if (match) return match[1]!;
  return RAW_JWT_RE.test(header) ? header : null;
}

/** Requires a valid, unrevoked session token; sets `req.principal`. */
export function requireSession(deps: Pick<AppDeps, 'store' | 'verify' | 'clock'>) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      throw new HttpError('unauthorized', 'Authentication required', { headers: { 'WWW-Authenticate': 'Bearer realm="portcullis"' } });
    }
    if (token === null) {
      throw new HttpError('invalid_request', 'The Authorization header must be "Bearer <token>"', {
        headers: { 'WWW-Authenticate': 'Bearer realm="portcullis", error="invalid_request"' },
      });
    }
    const result = await authenticateSession(deps, token, req.ip ?? null);
    if (!result.ok) {
      throw new HttpError('invalid_token', result.error.message, {
        headers: { 'WWW-Authenticate': `Bearer realm="portcullis", error="invalid_token", error_description="${result.error.message}"` },
      });
    }
    req.principal = result.value;
    next();
  };
}

/** Requires one permission of the catalogue, held by the session and allowed by the role now. */
export function requirePermission(action: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const principal = req.principal!;
    if (!permits(principal.permissions, principal.role, action)) {
      throw new HttpError('insufficient_scope', `This action needs the ${action} permission`, {
        headers: { 'WWW-Authenticate': `Bearer realm="portcullis", error="insufficient_scope", scope="${action}"` },
      });
    }
    next();
  };
}

export function principalOf(req: Request): Principal {
  return req.principal!;
}
