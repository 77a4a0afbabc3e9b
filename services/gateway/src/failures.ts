import type { ErrorCode } from '@portcullis/errors';

/** RFC 6750 §3.1 error codes, carried in `WWW-Authenticate`. */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Why a request was not let through, before it became a response. */
export interface AuthFailure {
  readonly code: ErrorCode;
  readonly message: string;
  /** Present when the challenge names an error; absent for "no credentials at all" (RFC 6750 §3.1). */
  readonly bearerError?: BearerError;
  readonly retryAfterSec?: number;
}

/**
 * The failures shared by every request, allocated once. Messages below 500 may say what is wrong with the
 * token; they never echo it.
 */
export const FAILURE = {
  missing: { code: 'unauthorized', message: 'Authentication required: send Authorization: Bearer <token>' },
  unsupportedScheme: { code: 'unauthorized', message: 'Unsupported authentication scheme: use Bearer' },
  malformed: { code: 'invalid_request', message: 'Malformed credentials', bearerError: 'invalid_request' },
  twoCredentials: {
    code: 'invalid_request',
    message: 'Send exactly one credential (one Authorization header or one PAT header)',
    bearerError: 'invalid_request',
  },
  invalid: { code: 'invalid_token', message: 'The access token is invalid', bearerError: 'invalid_token' },
  expired: { code: 'invalid_token', message: 'The access token expired', bearerError: 'invalid_token' },
  revoked: { code: 'invalid_token', message: 'The access token has been revoked', bearerError: 'invalid_token' },
  invalidPat: {
    code: 'invalid_token',
    message: 'The personal access token is invalid, expired or revoked',
    bearerError: 'invalid_token',
  },
  patDenied: { code: 'access_denied', message: 'The personal access token may not be used here' },
  // 5xx: the client sees the generic text from @portcullis/errors; these messages go to the log.
  revocationStale: { code: 'service_unavailable', message: 'revocation set is stale', retryAfterSec: 1 },
  keysUnavailable: { code: 'service_unavailable', message: 'JWKS not loaded', retryAfterSec: 1 },
  authUnavailable: { code: 'service_unavailable', message: 'token exchange failed', retryAfterSec: 1 },
} as const satisfies Record<string, AuthFailure>;

export function isFailure(value: object): value is AuthFailure {
  return 'code' in value;
}
