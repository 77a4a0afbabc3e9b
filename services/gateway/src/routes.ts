import type { RouteSpec } from './route-table.js';

/**
 * Routing: which table row a request path belongs to, and what it needs. Matching runs on every proxied
 * request, so it is a scan of a short array sorted once by prefix length (longest prefix wins).
 */

/** Paths of the auth service the gateway fronts, so clients need one base URL. */
export const AUTH_PUBLIC_PREFIXES = ['/auth/v1', '/.well-known'] as const;
export const AUTH_PROTECTED_PREFIXES = ['/api/v1'] as const;

export interface AssembleOptions {
  fileRoutes: RouteSpec[] | undefined;
  upstreamUrl: string | undefined;
  authUrl: string;
  timeoutMs: number;
}

function route(prefix: string, upstream: string, auth: boolean, timeoutMs: number): RouteSpec {
  return {
    prefix,
    upstream,
    rewrite: undefined,
    auth,
    permissions: undefined,
    forwardAuthorization: true,
    timeoutMs,
    preserveHost: false,
  };
}

/**
 * The full table: the file's routes (or, without a file, one default route to UPSTREAM_URL), a default
 * route to UPSTREAM_URL when the file has no `/`, and the built-in auth routes unless the file overrides
 * their prefix. `/api/v1` requires a token here; auth applies its own per-endpoint rules behind it.
 */
export function assembleRoutes(options: AssembleOptions): RouteSpec[] {
  const routes = [...(options.fileRoutes ?? [])];
  const has = (prefix: string) => routes.some((r) => r.prefix.toLowerCase() === prefix.toLowerCase());
  if (options.upstreamUrl !== undefined && !has('/')) routes.push(route('/', options.upstreamUrl, true, options.timeoutMs));
  for (const prefix of AUTH_PUBLIC_PREFIXES) {
    if (!has(prefix)) routes.push(route(prefix, options.authUrl, false, options.timeoutMs));
  }
  for (const prefix of AUTH_PROTECTED_PREFIXES) {
    if (!has(prefix)) routes.push(route(prefix, options.authUrl, true, options.timeoutMs));
  }
  return routes;
}

/** Marks a method the route does not allow at all (405), as opposed to `null`: no permission needed. */
export const METHOD_NOT_ALLOWED = Symbol('method not allowed');

/** The permission `method` needs on `spec`: a scope entry, null for none, or METHOD_NOT_ALLOWED. */
export function requiredPermission(spec: RouteSpec, method: string): string | null | typeof METHOD_NOT_ALLOWED {
  const table = spec.permissions;
  if (table === undefined) return null;
  const own = Object.hasOwn(table, method) ? table[method] : undefined;
  if (own !== undefined) return own;
  if (method === 'HEAD' && Object.hasOwn(table, 'GET')) return table.GET ?? null;
  if (Object.hasOwn(table, '*')) return table['*'] ?? null;
  return METHOD_NOT_ALLOWED;
}

export function allowedMethods(spec: RouteSpec): string[] {
  const methods = Object.keys(spec.permissions ?? {}).filter((m) => m !== '*');
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
  return methods;
}

export interface Router<T> {
  match(path: string): T | undefined;
}

/**
 * Builds a longest-prefix matcher over `entries`. Matching is case-insensitive: a stricter route must not be
 * skipped because a client wrote `/ADMIN` to an upstream that treats it as `/admin`.
 */
export function createRouter<T extends { spec: RouteSpec }>(entries: readonly T[]): Router<T> {
  const sorted = [...entries]
    .map((entry) => ({ entry, prefix: entry.spec.prefix.toLowerCase() }))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  return {
    match(path: string): T | undefined {
      const lower = path.toLowerCase();
      for (const { entry, prefix } of sorted) {
        if (prefix === '/') return entry;
        if (lower.startsWith(prefix) && (lower.length === prefix.length || lower.charCodeAt(prefix.length) === 47)) {
          return entry;
        }
      }
      return undefined;
    },
  };
}

/** The path the upstream receives for `path` (already normalised) under `spec`'s rewrite. */
export function rewritePath(spec: RouteSpec, path: string): string {
  if (spec.rewrite === undefined) return path;
  const rest = spec.prefix === '/' ? path : path.slice(spec.prefix.length);
  if (spec.rewrite === '/') return rest === '' ? '/' : rest;
  return spec.rewrite + rest;
}
