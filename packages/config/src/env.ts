import { z } from 'zod';
import { parseDuration } from './duration.js';

/** Raised when configuration is invalid; its message lists every problem, one per line. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(service: string, problems: readonly string[]) {
    super(`Invalid ${service} configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Parses `env` with `schema`, collecting every problem before failing (oauth2-proxy's habit),
 * so one start tells the operator everything that is wrong.
 */
export function parseEnv<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  // Empty strings mean "unset": `FOO= npm start` should behave like no FOO at all.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(service, result.error.issues.map(formatIssue));
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const name = issue.path.map(String).join('.') || '(root)';
  return `${name}: ${issue.message}`;
}

const HOST_PORT_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `host:port,host:port` → the list, or null when any part is not a host and a port. */
export function parseHostPorts(text: string): { host: string; port: number }[] | null {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) return null;
  const list: { host: string; port: number }[] = [];
  for (const part of parts) {
    const match = HOST_PORT_RE.exec(part);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65_535) return null;
    list.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return list;
}

const hostPortList = z
  .string()
  .transform((text, ctx) => {
    const list = parseHostPorts(text);
    if (!list) {
      ctx.addIssue({ code: 'custom', message: 'expected host:port[,host:port...]' });
      return z.NEVER;
    }
    return list;
  })
  .optional();

/**
 * Where Redis is, the same variables for every service: `REDIS_URL` (one node; with Sentinel or Cluster,
 * the data nodes' credentials), `REDIS_SENTINELS` + `REDIS_SENTINEL_NAME`, or `REDIS_CLUSTER_NODES`.
 * Add `redisTopologyCheck` to the service's schema to refuse contradictory combinations.
 */
export const redisEnv = {
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: 'expected a redis:// or rediss:// URL' }).optional(),
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster'),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  REDIS_CLUSTER_NODES: hostPortList,
};

type RedisEnv = z.output<z.ZodObject<typeof redisEnv>>;

/** A `superRefine` for a schema that spreads `redisEnv`: Sentinel and Cluster exclude each other. */
export function redisTopologyCheck(value: Pick<RedisEnv, 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES'>, ctx: z.RefinementCtx): void {
  if (value.REDIS_SENTINELS && value.REDIS_CLUSTER_NODES) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER_NODES'], message: 'set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both' });
  }
  if (value.REDIS_CLUSTER_NODES && value.REDIS_URL && new URL(value.REDIS_URL).pathname.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'a Redis Cluster has only database 0: drop the /database from the URL' });
  }
}

/** The parsed variables as the revocation package's `RedisTarget`. */
export function redisTarget(value: RedisEnv) {
  return {
    url: value.REDIS_URL,
    sentinels: value.REDIS_SENTINELS,
    sentinelName: value.REDIS_SENTINEL_NAME,
    sentinelPassword: value.REDIS_SENTINEL_PASSWORD,
    clusterNodes: value.REDIS_CLUSTER_NODES,
  };
}

/** Field helpers that keep the services' schemas short and their error messages uniform. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  url: () => z.url(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .transform((v) => v === 'true' || v === '1' || v === 'yes')
      .default(fallback),
  /** A duration such as `30s`; the value is in milliseconds. */
  duration: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((text, ctx) => {
        const ms = parseDuration(text);
        if (ms === null) {
          ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration such as 30s, 15m, 1h or 7d` });
          return z.NEVER;
        }
        return ms;
      }),
};
