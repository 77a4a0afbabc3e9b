import { parseDuration } from '@portcullis/config';
import { HttpError } from '@portcullis/errors';
import { z } from 'zod';
import type { Result } from '../domain/result.js';
import type { ExpirySpec } from '../domain/tokens.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a UUID cannot name anything: the same 404 as a missing record. */
export function idParam(value: unknown, what: string): string {
  if (typeof value !== 'string' || !UUID_RE.test(value)) throw new HttpError('not_found', `No such ${what}`);
  return value.toLowerCase();
}

/** Maps a domain outcome to the response value, or throws the HttpError it names. */
export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new HttpError(result.error.code, result.error.message, result.error.details ? { details: result.error.details } : {});
}

export const duration = z.string().max(32).transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 10s, 60m or 10000h' });
    return z.NEVER;
  }
  return ms;
});

/** The organizations table keeps lifetimes as a PostgreSQL integer of seconds. */
export const MAX_LIFETIME_SEC = 2_147_483_647;

/** A lifetime as seconds (a positive integer) or a duration string (`24h`, `90d`) of whole seconds. */
export const lifetimeSeconds = z.union([
  z.number().int().min(1).max(MAX_LIFETIME_SEC),
  duration
    .refine((ms) => ms % 1000 === 0 && ms / 1000 <= MAX_LIFETIME_SEC, `expected whole seconds, at most ${MAX_LIFETIME_SEC}`)
    .transform((ms) => ms / 1000),
]);

export const expiresField = z.union([z.iso.datetime({ offset: true }), z.null()]);

/** `expires` (RFC 3339 or null) and `ttl` are alternatives; the default TTL applies when neither is given. */
export function expirySpec(expires: string | null | undefined, ttlMs: number | undefined, absentMeansDefault: boolean): ExpirySpec | undefined {
  if (expires !== undefined && ttlMs !== undefined) {
    throw new HttpError('validation_failed', 'Give expires or ttl, not both', { details: [{ path: 'ttl', message: 'conflicts with expires' }] });
  }
  if (ttlMs !== undefined) return { ttlMs };
  if (expires === null) return { at: null };
  if (expires !== undefined) return { at: new Date(expires) };
  return absentMeansDefault ? { default: true } : undefined;
}

/** Free text kept in PostgreSQL, whose text columns refuse NUL: trimmed, at most `max` characters, NUL refused. */
export const storedText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((text) => !text.includes('\u0000'), 'must not contain NUL characters');

export const permissionsField = z.array(z.string().min(1).max(64)).max(100);
