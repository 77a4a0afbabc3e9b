import { type ErrorCode, statusOf } from './codes.js';

/** The one JSON error body every Portcullis endpoint answers with (the token endpoint adds RFC 6749 names). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  requestId: string;
  details?: readonly ErrorDetail[];
}

export interface ErrorDetail {
  path: string;
  message: string;
}

const GENERIC_5XX: Partial<Record<ErrorCode, string>> = {
  internal_error: 'Internal server error',
  bad_gateway: 'The upstream service could not be reached',
  service_unavailable: 'Service temporarily unavailable',
  gateway_timeout: 'The upstream service did not answer in time',
};

/**
 * An error that maps to a response. Routes throw or return it; the error middleware renders it.
 * A 5xx never carries detail to the client: its message is replaced by a generic one.
 */
export class HttpError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: readonly ErrorDetail[] | undefined;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: readonly ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'HttpError';
    this.code = code;
    this.status = statusOf(code);
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: readonly ErrorDetail[],
): ErrorBody {
  const status = statusOf(code);
  if (status >= 500) return { code, message: GENERIC_5XX[code] ?? 'Internal server error', requestId };
  return details && details.length > 0 ? { code, message, requestId, details } : { code, message, requestId };
}

/** RFC 6749 §5.2 body for the token, revocation and introspection endpoints. */
export interface OAuthErrorBody {
  /** The code, or its RFC 6749 name where the RFC has one (`server_error`, `temporarily_unavailable`). */
  error: string;
  error_description: string;
  requestId: string;
}

// RFC 6749 §4.1.2.1 names for the two server-side failures; every other code is already an RFC name or ours.
const OAUTH_NAMES: Partial<Record<ErrorCode, string>> = {
  internal_error: 'server_error',
  service_unavailable: 'temporarily_unavailable',
};

export function oauthErrorBody(code: ErrorCode, description: string, requestId: string): OAuthErrorBody {
  const status = statusOf(code);
  return {
    error: OAUTH_NAMES[code] ?? code,
    error_description: status >= 500 ? (GENERIC_5XX[code] ?? 'Internal server error') : description,
    requestId,
  };
}
