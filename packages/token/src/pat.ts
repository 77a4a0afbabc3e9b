import { crc32 } from 'node:zlib';
import { encodeBase62, isBase62, randomBase62 } from './base62.js';

/**
 * Personal access token format: `<prefix><lookup id><secret><checksum>`, all base62 after the prefix.
 *
 * - the lookup id finds the one stored row, so an exchange costs exactly one bcrypt compare;
 * - the secret is what bcrypt hashes (only its hash is stored);
 * - the checksum (CRC-32 of everything before it) rejects mistyped or random strings without any I/O.
 */
export const DEFAULT_PAT_PREFIX = 'pcl_';
export const LOOKUP_ID_LENGTH = 16;
export const SECRET_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
const BODY_LENGTH = LOOKUP_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
const PREFIX_RE = /^[a-z][a-z0-9]{0,15}_$/;

export interface ParsedPat {
  lookupId: string;
  secret: string;
}

export type PatParseResult =
  | { ok: true; pat: ParsedPat }
  | { ok: false; reason: 'prefix' | 'length' | 'charset' | 'checksum' };

export function isValidPatPrefix(prefix: string): boolean {
  return PREFIX_RE.test(prefix);
}

function checksumOf(text: string): string {
  return encodeBase62(crc32(text), CHECKSUM_LENGTH);
}

export function formatPat(prefix: string, lookupId: string, secret: string): string {
  const head = prefix + lookupId + secret;
  return head + checksumOf(head);
}

/** A new key: the full token string (shown once) and its parts. */
export function generatePat(prefix: string = DEFAULT_PAT_PREFIX): { key: string; lookupId: string; secret: string } {
  const lookupId = randomBase62(LOOKUP_ID_LENGTH);
  const secret = randomBase62(SECRET_LENGTH);
  return { key: formatPat(prefix, lookupId, secret), lookupId, secret };
}

/** Parses a candidate PAT without touching any store. */
export function parsePat(candidate: string, prefix: string = DEFAULT_PAT_PREFIX): PatParseResult {
  if (!candidate.startsWith(prefix)) return { ok: false, reason: 'prefix' };
  if (candidate.length !== prefix.length + BODY_LENGTH) return { ok: false, reason: 'length' };
  const body = candidate.slice(prefix.length);
  if (!isBase62(body)) return { ok: false, reason: 'charset' };
  const head = candidate.slice(0, candidate.length - CHECKSUM_LENGTH);
  if (checksumOf(head) !== candidate.slice(-CHECKSUM_LENGTH)) return { ok: false, reason: 'checksum' };
  return {
    ok: true,
    pat: { lookupId: body.slice(0, LOOKUP_ID_LENGTH), secret: body.slice(LOOKUP_ID_LENGTH, LOOKUP_ID_LENGTH + SECRET_LENGTH) },
  };
}

/** Cheap shape test used to route a credential (PAT vs JWT) before parsing it. */
export function looksLikePat(candidate: string, prefix: string = DEFAULT_PAT_PREFIX): boolean {
  return candidate.startsWith(prefix);
}
