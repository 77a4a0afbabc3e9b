import type { ErrorCode, ErrorDetail } from '@portcullis/errors';

/** Domain outcomes are values; only infrastructure failures (database, Redis) throw. */
export interface Failure {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
  /** For rate_limited: seconds until the caller may try again. */
  retryAfter?: number;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: Failure };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = (code: ErrorCode, message: string, details?: ErrorDetail[]): { ok: false; error: Failure } => ({
  ok: false,
  error: details ? { code, message, details } : { code, message },
});
