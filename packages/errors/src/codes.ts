/**
 * The closed list of error codes Portcullis answers with, and the HTTP status of each.
 * Both services import this table, so adding or renaming a code breaks the compile on both sides.
 */
export const ERROR_STATUS = {
  // RFC 6749 §5.2 (token endpoint) and shared request problems
  invalid_request: 400,
  invalid_grant: 400,
  invalid_scope: 400,
  invalid_target: 400,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  validation_failed: 400,
  invalid_client: 401,
  // RFC 6750 §3 (bearer tokens)
  unauthorized: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  // Application approval (Circonus): pending waits for an admin, denied is final
  authorization_pending: 401,
  access_denied: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  headers_too_large: 431,
  internal_error: 500,
  bad_gateway: 502,
  service_unavailable: 503,
  gateway_timeout: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, value);
}
