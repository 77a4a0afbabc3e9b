import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type ErrorCode, type ErrorResponse, errorBody, statusOf } from '@portcullis/errors';
import helmet from 'helmet';
import type { AuthFailure } from './failures.js';

/**
 * The gateway's own answers to proxied paths (401, 403, 502...), in the one JSON error shape. They carry
 * helmet's headers like /healthz does; upstream answers are passed through untouched.
 */

/** helmet's headers, computed once by running it against a recorder: the hot path copies a ready list. */
function computeHelmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return headers;
}

export const HELMET_HEADERS: Readonly<Record<string, string>> = Object.freeze(computeHelmetHeaders());

/** `Bearer realm="…"`, plus the RFC 6750 error attributes when the failure has one. */
export function bearerChallenge(realm: string, failure: AuthFailure | undefined, scope?: string): string {
  let challenge = `Bearer realm="${realm}"`;
  if (failure?.bearerError !== undefined) {
    challenge += `, error="${failure.bearerError}", error_description="${failure.message}"`;
  }
  if (scope !== undefined) challenge += `, scope="${scope}"`;
  return challenge;
}

export function errorResponse(
  code: ErrorCode,
  message: string,
  requestId: string,
  extraHeaders: OutgoingHttpHeaders = {},
): ErrorResponse {
  const body = JSON.stringify(errorBody(code, message, requestId));
  return {
    status: statusOf(code),
    headers: {
      ...HELMET_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-request-id': requestId,
      ...extraHeaders,
    },
    body,
  };
}

/** The response for a failed authentication or authorization, with its challenge and Retry-After. */
export function failureResponse(failure: AuthFailure, requestId: string, realm: string, scope?: string): ErrorResponse {
  const headers: OutgoingHttpHeaders = {};
  const status = statusOf(failure.code);
  if (status === 401 || status === 403 || failure.bearerError !== undefined) {
    headers['www-authenticate'] = bearerChallenge(realm, failure, scope);
  }
  if (failure.retryAfterSec !== undefined) headers['retry-after'] = String(failure.retryAfterSec);
  return errorResponse(failure.code, failure.message, requestId, headers);
}

export function send(res: ServerResponse, response: ErrorResponse): void {
  if (res.headersSent) {
    // Too late for a status: the client learns from the cut connection.
    res.destroy();
    return;
  }
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}
