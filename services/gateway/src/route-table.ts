import { parseDuration } from '@portcullis/config';
import { parseDocument } from 'yaml';
import { z } from 'zod';

/** One row of the route table, validated. */
export interface RouteSpec {
  /** Path prefix, matched on whole segments: `/api` matches `/api` and `/api/x`, not `/apix`. */
  prefix: string;
  /** Where matching requests go; a path on it is prepended to the forwarded path. */
  upstream: string;
  /** Replaces the matched prefix before forwarding (`/svc/x` with rewrite `/` → `/x`). */
  rewrite: string | undefined;
  /** Whether a valid session token (or PAT) is required. */
  auth: boolean;
  /**
   * The permission each method needs: METHOD → permission, or null for "any valid token"; `*` covers the
   * methods not listed; HEAD falls back to GET. Undefined: every method needs only a valid token.
   */
  permissions: Readonly<Record<string, string | null>> | undefined;
  /** Forward the client's Authorization header (a PAT is replaced by its session token). */
  forwardAuthorization: boolean;
  /** Longest the upstream may stay silent before the gateway answers 504. */
  timeoutMs: number;
  /** Send the client's Host to the upstream instead of the upstream's own host. */
  preserveHost: boolean;
}

const METHOD_RE = /^(?:[A-Z][A-Z-]{0,19}|\*)$/;
// A scope entry is one space-free token (RFC 6749 §3.3 scope-token).
const SCOPE_TOKEN_RE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** A route prefix or rewrite target: absolute, no dot segments, query, fragment or empty segments. */
export function pathProblem(path: string): string | undefined {
  if (path === '/') return undefined;
  if (!path.startsWith('/')) return 'must start with /';
  if (!/^[\x21-\x7e]+$/.test(path) || /[?#\\%]/.test(path)) return 'must be printable ASCII without ?, #, % or \\';
  if (path.length > 1 && path.endsWith('/')) return 'must not end with / (write /api, not /api/)';
  if (path.slice(1).split('/').some((s) => s === '' || s === '.' || s === '..')) {
    return 'must not contain empty, . or .. segments';
  }
  return undefined;
}

/** An upstream base URL: http(s), and nothing the proxy would silently drop (query, fragment, credentials). */
export const upstreamUrlField = () =>
  z
    .url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' })
    .refine(
      (value) => {
        // zod runs this even when the URL check above failed; that failure is already reported.
        if (!URL.canParse(value)) return true;
        const url = new URL(value);
        return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
      },
      { message: 'must not carry a query, fragment or credentials' },
    );

const pathField = z.string().superRefine((value, ctx) => {
  const problem = pathProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const routeSchema = z
  .strictObject({
    prefix: pathField,
    upstream: upstreamUrlField(),
    rewrite: pathField.optional(),
    auth: z.boolean().default(true),
    permissions: z
      .record(
        z.string().regex(METHOD_RE, 'expected an HTTP method in capitals, or *'),
        z.string().regex(SCOPE_TOKEN_RE, 'expected one permission without spaces').nullable(),
      )
      .optional(),
    forwardAuthorization: z.boolean().default(true),
    timeout: z
      .string()
      .refine((v) => parseDuration(v) !== null, { message: 'expected a duration such as 500ms, 30s or 2m' })
      .optional(),
    preserveHost: z.boolean().default(false),
  })
  .superRefine((route, ctx) => {
    if (!route.auth && route.permissions !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['permissions'], message: 'needs auth: true (nobody is authenticated)' });
    }
  });

const tableSchema = z.strictObject({ routes: z.array(routeSchema).min(1, 'expected at least one route') });

export type RouteTableResult = { ok: true; routes: RouteSpec[] } | { ok: false; problems: string[] };

/**
 * Parses a route table in YAML or JSON (YAML reads both) and validates every route, returning all problems
 * at once: syntax errors, bad fields in any route, and prefixes declared twice.
 */
export function parseRouteTable(text: string, defaultTimeoutMs: number): RouteTableResult {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => `syntax: ${e.message.split('\n')[0] ?? e.code}`) };
  }
  const raw: unknown = doc.toJS();
  const problems = duplicatePrefixes(raw);
  const result = tableSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${issue.path.map(String).join('.') || '(root)'}: ${messageOf(issue)}`);
  }
  if (problems.length > 0 || !result.success) return { ok: false, problems };

  const routes = result.data.routes.map(
    (r): RouteSpec => ({
      prefix: r.prefix,
      upstream: r.upstream,
      rewrite: r.rewrite,
      auth: r.auth,
      permissions: r.permissions,
      forwardAuthorization: r.forwardAuthorization,
      timeoutMs: r.timeout === undefined ? defaultTimeoutMs : (parseDuration(r.timeout) ?? defaultTimeoutMs),
      preserveHost: r.preserveHost,
    }),
  );
  return { ok: true, routes };
}

// zod words a bad record key as "Invalid key in record"; the key schema's own message says what is wrong.
function messageOf(issue: z.core.$ZodIssue): string {
  return issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
}

// Checked on the raw input, so a duplicate is reported alongside field problems rather than after them.
function duplicatePrefixes(raw: unknown): string[] {
  const routes = (raw as { routes?: unknown } | null)?.routes;
  if (!Array.isArray(routes)) return [];
  const seen = new Map<string, number>();
  const problems: string[] = [];
  routes.forEach((route: unknown, index) => {
    const prefix = (route as { prefix?: unknown } | null)?.prefix;
    if (typeof prefix !== 'string') return;
    const first = seen.get(prefix);
    if (first === undefined) seen.set(prefix, index);
    else problems.push(`routes.${index}.prefix: ${prefix} is already the prefix of routes.${first}`);
  });
  return problems;
}
