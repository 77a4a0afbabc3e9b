import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceProcess, tempDataDir } from '../test/support/processes.js';
import { type RedisServer, startRedis } from '../test/support/redis.js';
import { type BenchProcess, type LoggingService, spawnBenchServer, spawnLoggingService } from './children.js';
import type { Cleanup } from './cleanup.js';
import { call, keepAlive, waitUntil } from './http.js';

/** The route every gateway serves in the bench: GET needs a permission the bench's tokens hold. */
export const ROUTE_PREFIX = '/bench';
export const PERMISSION = 'bench:read';
/** What every candidate is asked for (the upstream answers any path but its echo path the same way). */
export const TIMED_PATH = `${ROUTE_PREFIX}/hello`;
export const ISSUER = 'http://auth.bench';
const ADMIN = { email: 'bench@portcullis.test', password: 'bench-admin-password-0123' };
const STOP_TIMEOUT_MS = 15_000;

export interface Pat {
  id: string;
  key: string;
}

/** Redis, the real auth service (PGlite in a temp folder), its first admin, and the upstream. */
export interface Stack {
  /** Extra environment given to every gateway (from --gateway-env). */
  gatewayEnv: Record<string, string>;
  /** Auth and the gateways run from `dist/`, not from source under tsx. */
  compiled: boolean;
  redis: RedisServer;
  auth: LoggingService;
  upstream: BenchProcess;
  routesFile: string;
  createPat(permissions?: string[]): Promise<Pat>;
  /** `POST /auth/v1/token` with `pat=`: the session token. */
  exchange(key: string): Promise<string>;
  /** `PATCH /api/v1/api_tokens/:id {enabled:false}` on auth directly; resolves when auth has answered 200. */
  disable(id: string): Promise<void>;
  /** `execArgv`: Node options for the gateway process (`--cpu-prof`); `cpus`: where it runs (bench/cpus.ts). */
  startGateway(env?: Record<string, string>, execArgv?: string[], cpus?: string): Promise<LoggingService>;
}

/** Stops a service, SIGKILL if it has not drained in time. */
export async function stopService(service: ServiceProcess): Promise<void> {
  const timer = setTimeout(() => service.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await service.stop();
  clearTimeout(timer);
}

/** A file for one service's log, in a folder of its own that the cleanup removes. */
function logFile(cleanup: Cleanup, service: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${service}-log-`));
  cleanup.defer(`${service} log folder`, () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, `${service}.log`);
}

export function writeRoutesFile(cleanup: Cleanup, upstreamUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-routes-'));
  cleanup.defer('routes folder', () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'routes.json');
  const table = { routes: [{ prefix: ROUTE_PREFIX, upstream: upstreamUrl, auth: true, permissions: { GET: PERMISSION } }] };
  writeFileSync(file, JSON.stringify(table, null, 2));
  return file;
}

/** A real gateway (`services/gateway/src/main.ts`) with the bench's route table, ready to serve. */
export async function startGatewayProcess(cleanup: Cleanup, env: Record<string, string>, compiled: boolean, execArgv: string[] = [], cpus?: string): Promise<LoggingService> {
  const gateway = await spawnLoggingService(
    'gateway',
    { GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', JWT_ISSUER: ISSUER, ...env },
    { compiled, execArgv, logFile: logFile(cleanup, 'gateway'), cpus },
  );
  cleanup.defer(`gateway ${gateway.pid}`, () => stopService(gateway));
  const agent = keepAlive();
  await waitUntil('gateway /readyz', async () => (await call(agent, `${gateway.url}/readyz`)).status === 200);
  agent.destroy();
  return gateway;
}

/** `compiled`: auth and every gateway run from `dist/` (built beforehand), as in the Docker image. */
export async function startStack(
  cleanup: Cleanup,
  /** `authExecArgv`: Node options for the auth process (`--cpu-prof`). */
  options: { bcryptCost: number; gatewayEnv?: Record<string, string>; compiled: boolean; authExecArgv?: string[] },
): Promise<Stack> {
  const { bcryptCost, gatewayEnv = {}, compiled, authExecArgv = [] } = options;
  const redis = await startRedis();
  cleanup.defer('redis', () => redis.close());
  const data = tempDataDir();
  cleanup.defer('auth data folder', () => data.remove());
  const upstream = await spawnBenchServer('bench/servers/upstream.ts', {});
  cleanup.defer('upstream', () => upstream.stop());

  const auth = await spawnLoggingService('auth', {
    AUTH_PORT: '0',
    AUTH_HOST: '127.0.0.1',
    DATA_DIR: data.dir,
    REDIS_URL: redis.url,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_ISSUER: ISSUER,
    BCRYPT_COST: String(bcryptCost),
  }, { compiled, execArgv: authExecArgv, logFile: logFile(cleanup, 'auth') });
  cleanup.defer('auth', () => stopService(auth));

  const agent = keepAlive();
  cleanup.defer('control agent', () => agent.destroy());
  const form = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  async function token(body: Record<string, string>): Promise<string> {
    const res = await call(agent, `${auth.url}/auth/v1/token`, { method: 'POST', headers: form, body: new URLSearchParams(body).toString() });
    if (res.status !== 200) throw new Error(`POST /auth/v1/token answered ${res.status}: ${res.body}\n${auth.tail()}`);
    return (JSON.parse(res.body) as { access_token: string }).access_token;
  }
  const admin = await token({ grant_type: 'password', username: ADMIN.email, password: ADMIN.password });
  const json = { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' };
  const routesFile = writeRoutesFile(cleanup, upstream.url);

  return {
    gatewayEnv,
    redis,
    auth,
    upstream,
    routesFile,
    async createPat(permissions = [PERMISSION]) {
      const res = await call(agent, `${auth.url}/api/v1/api_tokens`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ name: 'bench', ttl: '6h', permissions }),
      });
      if (res.status !== 201) throw new Error(`POST /api/v1/api_tokens answered ${res.status}: ${res.body}`);
      const created = JSON.parse(res.body) as Pat;
      return { id: created.id, key: created.key };
    },
    exchange: (key) => token({ pat: key }),
    async disable(id) {
      const res = await call(agent, `${auth.url}/api/v1/api_tokens/${id}`, { method: 'PATCH', headers: json, body: JSON.stringify({ enabled: false }) });
      if (res.status !== 200) throw new Error(`PATCH /api/v1/api_tokens/${id} answered ${res.status}: ${res.body}`);
    },
    compiled,
    startGateway: (env = {}, execArgv = [], cpus) =>
      startGatewayProcess(cleanup, { AUTH_URL: auth.url, REDIS_URL: redis.url, ROUTES_FILE: routesFile, ...gatewayEnv, ...env }, compiled, execArgv, cpus),
  };
}
