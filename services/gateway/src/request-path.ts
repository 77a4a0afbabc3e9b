/**
 * The path the gateway routes on must be the path the upstream acts on; otherwise `/public/../admin`,
 * `//admin` or `/%61dmin` could pass a lenient route and land on a strict one. So the gateway normalises the
 * path once (RFC 3986 §6.2.2: decode unreserved characters, merge slashes), refuses dot segments,
 * backslashes and an encoded NUL outright, and forwards exactly the path it matched.
 */

// Anything that may need normalising: escapes, backslashes, repeated slashes, dot segments, non-printables.
const NEEDS_WORK_RE = /[%\\#]|\/\/|\/\.|[^\x21-\x7e]/;
const BAD_ESCAPE_RE = /%(?![0-9A-Fa-f]{2})/;
// An encoded NUL: never part of a real path, and what cuts a path short in upstreams written in C.
const NUL_ESCAPE_RE = /%00/;
const ESCAPE_RE = /%([0-9A-Fa-f]{2})/g;
const SLASHES_RE = /\/{2,}/g;
// An encoded slash separates segments for the dot-segment test: upstreams that decode it would see one.
const SEGMENT_SPLIT_RE = /\/|%2F/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || code === 0x2e || code === 0x5f || code === 0x7e // - . _ ~
  );
}

function decodeUnreserved(match: string, hex: string): string {
  const code = Number.parseInt(hex, 16);
  return isUnreserved(code) ? String.fromCharCode(code) : match.toUpperCase();
}

/** Normalises a request path (no query); null when it must be refused with 400. */
export function normalizePath(path: string): string | null {
  if (path.charCodeAt(0) !== 47 /* / */) return null;
  if (!NEEDS_WORK_RE.test(path)) return path;
  if (/[^\x21-\x7e]|[\\#]/.test(path) || BAD_ESCAPE_RE.test(path) || NUL_ESCAPE_RE.test(path)) return null;
  let normal = path.includes('%') ? path.replace(ESCAPE_RE, decodeUnreserved) : path;
  if (normal.includes('%5C')) return null;
  normal = normal.replace(SLASHES_RE, '/');
  for (const segment of normal.split(SEGMENT_SPLIT_RE)) {
    if (segment === '.' || segment === '..') return null;
  }
  return normal;
}

export interface RequestTarget {
  path: string;
  /** `?` and what follows up to a fragment (never sent to the upstream), or the empty string. */
  query: string;
}

/** Splits `req.url` (origin-form only: absolute-form and `*` are refused) into a normalised path and query. */
export function parseRequestTarget(url: string): RequestTarget | null {
  const q = url.indexOf('?');
  const path = normalizePath(q === -1 ? url : url.slice(0, q));
  if (path === null) return null;
  if (q === -1) return { path, query: '' };
  const hash = url.indexOf('#', q);
  return { path, query: hash === -1 ? url.slice(q) : url.slice(q, hash) };
}

// Characters url.parse percent-encoded when http-proxy parsed every forwarded URL; the gateway now hands
// http-proxy the final URL, so it encodes them itself and upstreams keep receiving the same bytes.
const AUTO_ESCAPE_RE = /[\t\n\r "'<>\\^`{|}]/;
const AUTO_ESCAPE_ALL_RE = new RegExp(AUTO_ESCAPE_RE.source, 'g');

function percentEncode(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

/** The origin-form URL the upstream receives: the forwarded path and the client's query. */
export function forwardUrl(path: string, query: string): string {
  const url = query === '' ? path : path + query;
  // Tested first: a replace with a callback costs more than this test even when nothing matches.
  return AUTO_ESCAPE_RE.test(url) ? url.replace(AUTO_ESCAPE_ALL_RE, percentEncode) : url;
}
