import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError, env, parseEnv, redisEnv, redisTarget, redisTopologyCheck } from '@portcullis/config';
import { DEFAULT_PAT_PREFIX, isValidPatPrefix } from '@portcullis/token';
import { type RedisTarget, hasRedis } from '@portcullis/revocation';
import { z } from 'zod';
import { parseRouteTable, type RouteSpec, upstreamUrlField } from './route-table.js';
import { assembleRoutes } from './routes.js';

/** Tunables, with their units. Each one can be overridden by the environment variable named beside it. */
export const DEFAULT_GATEWAY_PORT = 8080; // GATEWAY_PORT
export const DEFAULT_AUTH_URL = 'http://127.0.0.1:8081'; // AUTH_URL
export const DEFAULT_JWT_ISSUER = 'http://localhost:8081'; // JWT_ISSUER: the auth service's public URL
export const DEFAULT_JWT_AUDIENCE = 'portcullis'; // JWT_AUDIENCE
export const DEFAULT_CLOCK_TOLERANCE = '5s'; // JWT_CLOCK_TOLERANCE
export const DEFAULT_JWKS_MIN_REFETCH_INTERVAL = '5s'; // JWKS_MIN_REFETCH_INTERVAL: unknown-kid refetch floor
export const DEFAULT_JWKS_REFRESH_INTERVAL = '5m'; // JWKS_REFRESH_INTERVAL: background refresh (drops retired keys)
export const DEFAULT_REVOCATION_STALENESS = '5s'; // REVOCATION_STALENESS
export const DEFAULT_PAT_HEADER = 'token'; // PAT_HEADER: Kriten's `Token: <key>`
export const DEFAULT_PAT_REFRESH_MARGIN = '30s'; // PAT_REFRESH_MARGIN: re-exchange this long before expiry
export const DEFAULT_PAT_CACHE_SIZE = 10_000; // PAT_CACHE_SIZE (entries)
export const DEFAULT_TOKEN_CACHE_SIZE = 100_000; // TOKEN_CACHE_SIZE (entries)
export const DEFAULT_UPSTREAM_TIMEOUT = '30s'; // UPSTREAM_TIMEOUT: idle time waiting on an upstream
export const DEFAULT_SHUTDOWN_GRACE = '10s'; // SHUTDOWN_GRACE: in-flight requests finish within this on SIGTERM
export const DEFAULT_REALM = 'portcullis'; // AUTH_REALM
export const DEFAULT_IDENTITY_HEADERS = {
  subject: 'x-auth-subject', // IDENTITY_HEADER_SUBJECT
  org: 'x-auth-org', // IDENTITY_HEADER_ORG
  tokenId: 'x-auth-token-id', // IDENTITY_HEADER_TOKEN_ID
  scope: 'x-auth-scope', // IDENTITY_HEADER_SCOPE
} as const;

export interface IdentityHeaderNames {
  subject: string;
  org: string;
  tokenId: string;
  scope: string;
}

export interface GatewayConfig {
  host: string | undefined;
  port: number;
  authUrl: string;
  jwksUrl: string;
  upstreamUrl: string | undefined;
  routesFile: string | undefined;
  /** The full table: file routes, the default route and the built-in routes fronting auth. */
  routes: RouteSpec[];
  issuer: string;
  audience: string;
  clockToleranceSec: number;
  jwksMinRefetchIntervalMs: number;
  jwksRefreshIntervalMs: number;
  /** Where the revocation cache is: a URL, or Sentinel; neither set = the in-process bus. */
  redis: RedisTarget;
  revocationStalenessMs: number;
  revocationFailOpen: boolean;
  patPrefix: string;
  patHeader: string;
  patRefreshMarginMs: number;
  patCacheSize: number;
  tokenCacheSize: number;
  upstreamTimeoutMs: number;
  identityHeaders: IdentityHeaderNames;
  trustProxy: boolean;
  realm: string;
  shutdownGraceMs: number;
  logLevel: string;
  /** One JSON line per request (request id, route, status, latency, token id, subject); about 24 µs of CPU per request (docs/benchmarks.md). */
  accessLog: boolean;
  /** Gateway processes sharing the port (node:cluster); 1 = this process serves alone. */
  workers: number;
}

// RFC 9110 token: what a header name may contain.
const HEADER_NAME_RE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// Headers the gateway must never repurpose as identity or PAT carriers.
const RESERVED_HEADERS = new Set([
  'authorization', 'host', 'cookie', 'connection', 'content-length', 'content-type', 'transfer-encoding',
  'upgrade', 'te', 'trailer', 'expect', 'x-request-id', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
  'forwarded',
]);

const headerName = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) => v.toLowerCase())
    .refine((v) => HEADER_NAME_RE.test(v), { message: 'is not a valid header name' })
    .refine((v) => !RESERVED_HEADERS.has(v), { message: 'is a reserved header name' });

const httpUrl = () => z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' });

/** Every environment variable the gateway reads (the route table file is checked separately). */
export const GatewayConfigSchema = z.object({
  GATEWAY_HOST: z.string().optional(),
  GATEWAY_PORT: env.port(DEFAULT_GATEWAY_PORT),
  AUTH_URL: httpUrl().default(DEFAULT_AUTH_URL),
  JWKS_URL: httpUrl().optional(),
  UPSTREAM_URL: upstreamUrlField().optional(),
  ROUTES_FILE: z.string().optional(),
  JWT_ISSUER: z.string().default(DEFAULT_JWT_ISSUER),
  JWT_AUDIENCE: z.string().default(DEFAULT_JWT_AUDIENCE),
  JWT_CLOCK_TOLERANCE: env.duration(DEFAULT_CLOCK_TOLERANCE),
  JWKS_MIN_REFETCH_INTERVAL: env.duration(DEFAULT_JWKS_MIN_REFETCH_INTERVAL),
  JWKS_REFRESH_INTERVAL: env.duration(DEFAULT_JWKS_REFRESH_INTERVAL),
  ...redisEnv,
  REVOCATION_STALENESS: env.duration(DEFAULT_REVOCATION_STALENESS),
  REVOCATION_FAIL_OPEN: env.bool(false),
  PAT_PREFIX: z
    .string()
    .default(DEFAULT_PAT_PREFIX)
    .refine(isValidPatPrefix, { message: 'expected lowercase letters and digits ending in "_", such as pcl_' }),
  PAT_HEADER: headerName(DEFAULT_PAT_HEADER),
  PAT_REFRESH_MARGIN: env.duration(DEFAULT_PAT_REFRESH_MARGIN),
  PAT_CACHE_SIZE: env.int(DEFAULT_PAT_CACHE_SIZE, 1),
  TOKEN_CACHE_SIZE: env.int(DEFAULT_TOKEN_CACHE_SIZE, 1),
  UPSTREAM_TIMEOUT: env.duration(DEFAULT_UPSTREAM_TIMEOUT),
  IDENTITY_HEADER_SUBJECT: headerName(DEFAULT_IDENTITY_HEADERS.subject),
  IDENTITY_HEADER_ORG: headerName(DEFAULT_IDENTITY_HEADERS.org),
  IDENTITY_HEADER_TOKEN_ID: headerName(DEFAULT_IDENTITY_HEADERS.tokenId),
  IDENTITY_HEADER_SCOPE: headerName(DEFAULT_IDENTITY_HEADERS.scope),
  TRUST_PROXY: env.bool(false),
  // The realm goes inside a quoted-string: no quotes, backslashes or control characters.
  AUTH_REALM: z
    .string()
    .regex(/^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/, 'expected printable text without quotes or backslashes')
    .default(DEFAULT_REALM),
  SHUTDOWN_GRACE: env.duration(DEFAULT_SHUTDOWN_GRACE),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ACCESS_LOG: env.bool(true),
  GATEWAY_WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)], { message: 'expected a number of processes (1-256) or auto' })
    .default(1),
}).superRefine(redisTopologyCheck);

type RawEnv = Readonly<Record<string, string | undefined>>;

/**
 * Reads the gateway's configuration from `environment` and the route table file it names. Every problem
 * of both (bad variables, bad routes) is collected into one ConfigError, so one start shows them all.
 */
export function loadGatewayConfig(
  environment: RawEnv,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): GatewayConfig {
  const problems: string[] = [];
  let parsed: z.output<typeof GatewayConfigSchema> | undefined;
  try {
    parsed = parseEnv('gateway', GatewayConfigSchema, environment);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }

  const defaultTimeoutMs = parsed?.UPSTREAM_TIMEOUT ?? 30_000;
  let fileRoutes: RouteSpec[] | undefined;
  const routesFile = parsed?.ROUTES_FILE ?? (environment.ROUTES_FILE || undefined);
  if (routesFile !== undefined) {
    let text: string | undefined;
    try {
      text = readFile(routesFile);
    } catch (error) {
      problems.push(`ROUTES_FILE: cannot read ${routesFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (text !== undefined) {
      const table = parseRouteTable(text, defaultTimeoutMs);
      if (table.ok) fileRoutes = table.routes;
      else problems.push(...table.problems.map((p) => `ROUTES_FILE ${routesFile}: ${p}`));
    }
  }
  if (routesFile === undefined && !environment.UPSTREAM_URL) {
    problems.push('UPSTREAM_URL: required when ROUTES_FILE is not set (where should requests go?)');
  }
  if (parsed) {
    const names = [parsed.IDENTITY_HEADER_SUBJECT, parsed.IDENTITY_HEADER_ORG, parsed.IDENTITY_HEADER_TOKEN_ID, parsed.IDENTITY_HEADER_SCOPE];
    if (new Set([...names, parsed.PAT_HEADER]).size !== names.length + 1) {
      problems.push('IDENTITY_HEADER_*, PAT_HEADER: every header name must be different');
    }
  }
  const workers = parsed?.GATEWAY_WORKERS === 'auto' ? availableParallelism() : (parsed?.GATEWAY_WORKERS ?? 1);
  if (parsed && workers > 1 && !hasRedis(redisTarget(parsed))) {
    problems.push('GATEWAY_WORKERS: more than one process needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES) to share revocations');
  }
  if (problems.length > 0 || !parsed) throw new ConfigError('gateway', problems);

  const authUrl = parsed.AUTH_URL.replace(/\/+$/, '');
  return {
    host: parsed.GATEWAY_HOST,
    port: parsed.GATEWAY_PORT,
    authUrl,
    jwksUrl: parsed.JWKS_URL ?? `${authUrl}/.well-known/jwks.json`,
    upstreamUrl: parsed.UPSTREAM_URL,
    routesFile,
    routes: assembleRoutes({ fileRoutes, upstreamUrl: parsed.UPSTREAM_URL, authUrl, timeoutMs: defaultTimeoutMs }),
    issuer: parsed.JWT_ISSUER,
    audience: parsed.JWT_AUDIENCE,
    clockToleranceSec: Math.floor(parsed.JWT_CLOCK_TOLERANCE / 1000),
    jwksMinRefetchIntervalMs: parsed.JWKS_MIN_REFETCH_INTERVAL,
    jwksRefreshIntervalMs: parsed.JWKS_REFRESH_INTERVAL,
    redis: redisTarget(parsed),
    revocationStalenessMs: parsed.REVOCATION_STALENESS,
    revocationFailOpen: parsed.REVOCATION_FAIL_OPEN,
    patPrefix: parsed.PAT_PREFIX,
    patHeader: parsed.PAT_HEADER,
    patRefreshMarginMs: parsed.PAT_REFRESH_MARGIN,
    patCacheSize: parsed.PAT_CACHE_SIZE,
    tokenCacheSize: parsed.TOKEN_CACHE_SIZE,
    upstreamTimeoutMs: defaultTimeoutMs,
    identityHeaders: {
      subject: parsed.IDENTITY_HEADER_SUBJECT,
      org: parsed.IDENTITY_HEADER_ORG,
      tokenId: parsed.IDENTITY_HEADER_TOKEN_ID,
      scope: parsed.IDENTITY_HEADER_SCOPE,
    },
    trustProxy: parsed.TRUST_PROXY,
    realm: parsed.AUTH_REALM,
    shutdownGraceMs: parsed.SHUTDOWN_GRACE,
    logLevel: parsed.LOG_LEVEL,
    accessLog: parsed.ACCESS_LOG,
    workers,
  };
}
