import { env, parseEnv, redisEnv, redisTopologyCheck } from '@portcullis/config';
import { isValidPatPrefix } from '@portcullis/token';
import { z } from 'zod';
import { DEFAULT_BCRYPT_COST } from './domain/passwords.js';

export const DEFAULT_AUTH_PORT = 8081;
export const DEFAULT_ISSUER = 'http://localhost:8081';
export const DEFAULT_AUDIENCE = 'portcullis';

/** Every setting of the auth service, from the environment. Secrets have no defaults. */
export const AuthConfigSchema = z.object({
  AUTH_PORT: env.port(DEFAULT_AUTH_PORT),
  AUTH_HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().default('.data'),
  ...redisEnv,
  ADMIN_EMAIL: z.email().default('admin@portcullis.local'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(72).optional(),
  ORGANIZATION_NAME: z.string().min(1).max(100).default('Default organization'),
  JWT_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
  JWT_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  SESSION_TTL: env.duration('1h'),
  PAT_PREFIX: z.string().default('pcl_').refine(isValidPatPrefix, 'must be lowercase letters/digits ending in "_" (e.g. pcl_)'),
  BCRYPT_COST: env.int(DEFAULT_BCRYPT_COST, 4, 15),
  PAT_CACHE_TTL: env.duration('10m'),
  PAT_CACHE_SIZE: env.int(100_000, 0),
  EXPIRY_WARNING: env.duration('7d'),
  USAGE_FLUSH_INTERVAL: env.duration('5s'),
  REVOCATION_REBUILD_INTERVAL: env.duration('60s'),
  RATE_LIMIT_IP_FAILURES: env.int(30, 1),
  RATE_LIMIT_TOKEN_FAILURES: env.int(10, 1),
  RATE_LIMIT_WINDOW: env.duration('5m'),
  TRUST_PROXY: z.string().default('loopback'),
  SHUTDOWN_TIMEOUT: env.duration('10s'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
}).superRefine(redisTopologyCheck);

export type AuthConfig = z.output<typeof AuthConfigSchema>;

export function loadAuthConfig(source: Readonly<Record<string, string | undefined>> = process.env): AuthConfig {
  return parseEnv('auth', AuthConfigSchema, source);
}
