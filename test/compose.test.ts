import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseDuration } from '@portcullis/config';
import { MemoryRevocationBus } from '@portcullis/revocation';
import { describe, expect, it } from 'vitest';
import { AuthConfigSchema, DEFAULT_AUTH_PORT, loadAuthConfig } from '../services/auth/src/config.js';
import { createLogger } from '../services/auth/src/logger.js';
import { startAuth } from '../services/auth/src/start.js';
import { DEFAULT_GATEWAY_PORT, GatewayConfigSchema, loadGatewayConfig } from '../services/gateway/src/config.js';
import { createGatewayLogger } from '../services/gateway/src/logger.js';
import { startGateway } from '../services/gateway/src/start.js';
import {
  ROOT,
  type ComposeService,
  argv,
  dependenciesOf,
  environmentOf,
  execForm,
  healthcheckArgv,
  loadCompose,
  loadDockerfile,
  publishedPorts,
  readRepoFile,
  readTsconfig,
  stageChain,
  workspaces,
} from './support/compose-files.js';

/**
 * Docker has no engine on the machines that run this suite, so docker-compose.yml and the Dockerfile are
 * checked against the code instead: the variables each service's config schema defines, the ports and paths
 * the services use, and the files `npm run build` emits.
 */

const compose = loadCompose();
const service = (name: string): ComposeService => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};
const authEnv = environmentOf(service('auth'));
const gatewayEnv = environmentOf(service('gateway'));
const upstreamEnv = environmentOf(service('upstream'));
const NODE_SERVICES = ['auth', 'gateway', 'upstream'] as const;
const LB_CONFIG = 'deploy/gateway-lb.nginx.conf';

/** Keys of a zod object a missing value fails: neither optional nor defaulted. */
function requiredKeys(shape: Record<string, { safeParse(value: unknown): { success: boolean } }>): string[] {
  return Object.entries(shape)
    .filter(([, field]) => !field.safeParse(undefined).success)
    .map(([key]) => key);
}

function configProblems(load: () => unknown): readonly string[] {
  try {
    load();
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/** `node -e "fetch('http://127.0.0.1:PORT/healthz')..."`: the script and the URL it requests. */
function nodeHealthcheck(name: string): { script: string; url: URL } {
  const command = healthcheckArgv(service(name).healthcheck!);
  expect(command.slice(0, 2), `${name}'s healthcheck runs Node (the image has no curl)`).toEqual(['node', '-e']);
  const script = command[2]!;
  const urls = script.match(/https?:\/\/[^'"`\s]+/g) ?? [];
  expect(urls, `${name}'s healthcheck requests exactly one URL`).toHaveLength(1);
  return { script, url: new URL(urls[0]!) };
}

/** Runs a healthcheck script as Docker would, but against `url`; answers its exit code. */
function runHealthcheck(script: string, from: URL, to: string): Promise<number> {
  const retargeted = script.replace(from.href.replace(/\/$/, ''), to.replace(/\/$/, ''));
  expect(retargeted).not.toBe(script);
  return new Promise((done) => {
    execFile(process.execPath, ['-e', retargeted], { timeout: 10_000 }, (error) => done(error ? (typeof error.code === 'number' ? error.code : -1) : 0));
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('docker-compose.yml', () => {
  it('runs postgres, redis, auth, gateway, the example upstream and a load balancer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['auth', 'gateway', 'lb', 'postgres', 'redis', 'upstream']);
    expect(service('postgres').image).toMatch(/^postgres:16(\b|-)/);
    expect(service('redis').image).toMatch(/^redis:7(\b|-)/);
    expect(argv(service('redis').command!).join(' ')).toContain('--appendonly yes');
    expect(service('postgres').volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data'))).toBe(true);
    expect(service('redis').volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  describe('auth environment', () => {
    it('sets only variables AuthConfigSchema defines', () => {
      const unknown = Object.keys(authEnv).filter((key) => !Object.hasOwn(AuthConfigSchema.shape, key));
      expect(unknown).toEqual([]);
    });

    it('sets every variable AuthConfigSchema requires', () => {
      const missing = requiredKeys(AuthConfigSchema.shape).filter((key) => !authEnv[key]);
      expect(missing).toEqual([]);
    });

    it('is accepted by loadAuthConfig, with compose defaults and with every variable overridden', () => {
      expect(configProblems(() => loadAuthConfig(authEnv))).toEqual([]);
      const overridden = environmentOf(
        loadCompose({ ADMIN_PASSWORD: 'correct horse battery staple', POSTGRES_PASSWORD: 's3cret', PUBLIC_URL: 'https://api.example.com' })
          .services.auth!,
      );
      expect(configProblems(() => loadAuthConfig(overridden))).toEqual([]);
    });
  });

  describe('gateway environment', () => {
    const gatewayKeys = Object.keys(GatewayConfigSchema.shape);

    it('finds the gateway schema in config.ts', () => {
      expect(gatewayKeys).toEqual(expect.arrayContaining(['GATEWAY_PORT', 'AUTH_URL', 'UPSTREAM_URL', 'REDIS_URL', 'JWT_ISSUER']));
    });

    it('sets only variables the gateway schema defines', () => {
      expect(Object.keys(gatewayEnv).filter((key) => !gatewayKeys.includes(key))).toEqual([]);
    });

    it('is accepted by loadGatewayConfig: every required setting is there and valid', () => {
      expect(configProblems(() => loadGatewayConfig(gatewayEnv))).toEqual([]);
    });
  });

  describe('upstream environment', () => {
    it('sets only variables echo-main reads', () => {
      const source = readRepoFile('services/standalone/src/echo-main.ts');
      expect(Object.keys(upstreamEnv).filter((key) => !source.includes(`process.env.${key}`))).toEqual([]);
    });
  });

  describe('ports and URLs', () => {
    it('auth listens on its default port and the gateway reaches it there', () => {
      expect(Number(authEnv.AUTH_PORT)).toBe(DEFAULT_AUTH_PORT);
      const authUrl = new URL(gatewayEnv.AUTH_URL!);
      expect(authUrl.hostname).toBe('auth');
      expect(Number(authUrl.port)).toBe(loadAuthConfig(authEnv).AUTH_PORT);
    });

    it('the gateway listens on its default port and the load balancer forwards to it', () => {
      const port = loadGatewayConfig(gatewayEnv).port;
      expect(port).toBe(DEFAULT_GATEWAY_PORT);
      expect(service('gateway').expose?.map(Number)).toEqual([port]);
      const nginx = readRepoFile(LB_CONFIG);
      // The only address nginx proxies to is the gateway service on the gateway's port.
      expect(nginx).toMatch(new RegExp(`set \\$(\\w+) http://gateway:${port};\\s+proxy_pass \\$\\1;`));
      expect(nginx.match(/http:\/\/[\w.-]+:\d+/g)).toEqual([`http://gateway:${port}`]);
      const lb = service('lb');
      expect(lb.volumes).toContain(`./${LB_CONFIG}:/etc/nginx/conf.d/default.conf:ro`);
      const [published] = publishedPorts(lb);
      expect(nginx).toContain(`listen ${published!.container};`);
    });

    it('the public URL (the issuer) names the port the load balancer publishes', () => {
      const [published] = publishedPorts(service('lb'));
      const issuer = new URL(authEnv.JWT_ISSUER!);
      expect(issuer.hostname).toBe('localhost');
      expect(issuer.port).toBe(published!.host);
    });

    it('UPSTREAM_URL points at the echo service on the port it listens on, its default', () => {
      const upstream = new URL(gatewayEnv.UPSTREAM_URL!);
      expect(upstream.hostname).toBe('upstream');
      expect(upstream.port).toBe(upstreamEnv.ECHO_PORT);
      expect(readRepoFile('services/standalone/src/echo-main.ts')).toContain(`DEFAULT_ECHO_PORT = ${upstream.port};`);
      expect(service('upstream').expose?.map(String)).toEqual([upstream.port]);
    });

    it('both services share one Redis, the redis service', () => {
      expect(authEnv.REDIS_URL).toBe(gatewayEnv.REDIS_URL);
      const redis = new URL(authEnv.REDIS_URL!);
      expect([redis.hostname, redis.port || '6379']).toEqual(['redis', '6379']);
    });

    it('DATABASE_URL names the postgres service, its user, password and database', () => {
      const db = new URL(authEnv.DATABASE_URL!);
      const pg = environmentOf(service('postgres'));
      expect([db.hostname, db.port || '5432']).toEqual(['postgres', '5432']);
      expect(decodeURIComponent(db.username)).toBe(pg.POSTGRES_USER);
      expect(decodeURIComponent(db.password)).toBe(pg.POSTGRES_PASSWORD);
      expect(db.pathname).toBe(`/${pg.POSTGRES_DB}`);
    });

    it('auth signs with the issuer and audience the gateway pins, also when PUBLIC_URL is set', () => {
      for (const vars of [{}, { PUBLIC_URL: 'https://api.example.com' }]) {
        const services = loadCompose(vars).services;
        const auth = loadAuthConfig(environmentOf(services.auth!));
        const gateway = loadGatewayConfig(environmentOf(services.gateway!));
        expect(environmentOf(services.auth!).JWT_ISSUER).toBe(environmentOf(services.gateway!).JWT_ISSUER);
        expect(gateway.issuer).toBe(auth.JWT_ISSUER);
        expect(gateway.audience).toBe(auth.JWT_AUDIENCE);
      }
    });
  });

  describe('scaling', () => {
    it('pins no container name and publishes no gateway port, so --scale gateway=N cannot collide', () => {
      for (const [name, spec] of Object.entries(compose.services)) expect(spec.container_name, name).toBeUndefined();
      expect(service('gateway').ports ?? []).toEqual([]);
    });

    it('gives each Node service longer than its own drain timeout to stop before SIGKILL', () => {
      const grace = (name: string) => parseDuration(service(name).stop_grace_period ?? '10s')!;
      expect(grace('auth')).toBeGreaterThan(loadAuthConfig(authEnv).SHUTDOWN_TIMEOUT);
      expect(grace('gateway')).toBeGreaterThan(loadGatewayConfig(gatewayEnv).shutdownGraceMs);
    });
  });

  describe('healthchecks', () => {
    it('every service has one, and every depends_on condition waits on a service that has one', () => {
      for (const [name, spec] of Object.entries(compose.services)) {
        expect(spec.healthcheck?.test, name).toBeDefined();
        for (const [dependency, condition] of Object.entries(dependenciesOf(spec))) {
          expect(compose.services[dependency], `${name} depends on ${dependency}`).toBeDefined();
          expect(condition, `${name} -> ${dependency}`).toBe('service_healthy');
          expect(compose.services[dependency]!.healthcheck, `${name} -> ${dependency}`).toBeDefined();
        }
      }
      expect(Object.keys(dependenciesOf(service('auth'))).sort()).toEqual(['postgres', 'redis']);
      expect(Object.keys(dependenciesOf(service('gateway')))).toEqual(expect.arrayContaining(['auth', 'redis']));
    });

    it('each Node service checks /healthz on its own port', () => {
      const ports = { auth: authEnv.AUTH_PORT, gateway: gatewayEnv.GATEWAY_PORT, upstream: upstreamEnv.ECHO_PORT };
      for (const name of NODE_SERVICES) {
        const { url } = nodeHealthcheck(name);
        expect([url.hostname, url.port, url.pathname], name).toEqual(['127.0.0.1', ports[name], '/healthz']);
      }
    });

    it("auth's healthcheck passes against the real auth service started from the compose settings", async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-compose-'));
      // PostgreSQL and Redis are the only things swapped: PGlite and the in-process bus stand in for them.
      const config = loadAuthConfig({ ...authEnv, DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir, AUTH_HOST: '127.0.0.1', AUTH_PORT: '0', BCRYPT_COST: '4' });
      const auth = await startAuth(config, { log: createLogger('silent', 'auth'), bus: new MemoryRevocationBus() });
      try {
        const { script, url } = nodeHealthcheck('auth');
        expect(await runHealthcheck(script, new URL(url.origin), auth.url)).toBe(0);
        expect(await runHealthcheck(script, new URL(url.origin), `http://127.0.0.1:${await closedPort()}`)).not.toBe(0);
      } finally {
        await auth.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("the gateway's healthcheck passes against the real gateway configured by the compose settings", async () => {
      const config = loadGatewayConfig({ ...gatewayEnv, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0' });
      const gateway = await startGateway(config, {
        logger: createGatewayLogger({ level: 'silent', patHeader: config.patHeader }),
        revocation: { isRevoked: () => false, isFresh: () => true },
        fetch: () => Promise.reject(new Error('auth is not running in this test')),
      });
      try {
        const { script, url } = nodeHealthcheck('gateway');
        expect(await runHealthcheck(script, new URL(url.origin), gateway.url)).toBe(0);
      } finally {
        await gateway.close();
      }
    });

    it("the upstream's healthcheck passes against echo-main, which then stops on SIGTERM", async () => {
      const child: ChildProcess = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', join(ROOT, 'services/standalone/src/echo-main.ts')],
        { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ECHO_PORT: '0', ECHO_HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      try {
        const port = await new Promise<string>((resolve, reject) => {
          let output = '';
          child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
            output += chunk;
            const match = /listening on port (\d+)/.exec(output);
            if (match) resolve(match[1]!);
          });
          void exited.then((code) => reject(new Error(`echo-main exited with ${code}: ${output}`)));
        });
        const { script, url } = nodeHealthcheck('upstream');
        expect(await runHealthcheck(script, new URL(url.origin), `http://127.0.0.1:${port}`)).toBe(0);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
});

describe('Dockerfile', () => {
  const dockerfile = loadDockerfile();
  const build = stageChain(dockerfile, 'build');
  const runtime = stageChain(dockerfile, 'runtime');
  const runs = (chain: typeof build) => chain.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const copies = (chain: typeof build) => chain.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/));

  it('builds with every dependency and runs with production dependencies only, as user node', () => {
    expect(dockerfile.stages.at(-1)!.name).toBe('runtime');
    expect(runs(build)).toEqual(expect.arrayContaining([expect.stringMatching(/^npm ci\b(?!.*--omit)/), 'npm run build']));
    expect(runs(runtime).some((r) => /^npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs(runtime).some((r) => r.includes('npm run build'))).toBe(false);
    expect(runtime).toContainEqual({ keyword: 'ENV', args: 'NODE_ENV=production' });
    expect(runtime.filter((i) => i.keyword === 'USER').at(-1)?.args).toBe('node');
  });

  it('installs with an npm that enforces the allowScripts policy of package.json (npm 11 or later)', () => {
    const pkg = JSON.parse(readRepoFile('package.json')) as { allowScripts?: Record<string, boolean> };
    expect(pkg.allowScripts).toBeDefined();
    const version = dockerfile.globalArgs.NPM_VERSION ?? '';
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(11);
    expect(runs(runtime)[0]).toMatch(/^npm install --global "npm@\$\{NPM_VERSION\}"/);
  });

  it("copies every workspace's package.json before npm ci and every workspace's dist/ into the runtime", () => {
    const all = workspaces();
    expect(all).toEqual(expect.arrayContaining(['services/auth', 'services/gateway', 'services/standalone']));
    const firstCi = runtime.findIndex((i) => i.keyword === 'RUN' && i.args.startsWith('npm ci'));
    const manifests = copies(runtime.slice(0, firstCi)).map((args) => args.at(-2));
    const dists = copies(runtime.slice(firstCi)).filter((args) => args[0] === '--from=build');
    for (const dir of all) {
      expect(manifests, dir).toContain(`${dir}/package.json`);
      expect(dists, dir).toContainEqual(['--from=build', `/app/${dir}/dist`, `${dir}/dist`]);
    }
  });

  it('keeps installed and built output, local data and git history out of the build context', () => {
    const ignored = readRepoFile('.dockerignore').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/*.tsbuildinfo', '.data', '.git', 'bench/results']));
  });

  it('starts only files `npm run build` emits: CMD and every compose command', () => {
    const cmd = runtime.filter((i) => i.keyword === 'CMD').at(-1)!;
    const commands = [execForm(cmd), ...NODE_SERVICES.map((name) => argv(service(name).command!))];
    const references = readTsconfig('.').projectReferences?.map((ref) => ref.path) ?? [];
    for (const command of commands) {
      expect(command[0]).toBe('node');
      const match = /^((?:packages|services)\/[\w-]+)\/dist\/(.+)\.js$/.exec(command[1]!);
      expect(match, command.join(' ')).not.toBeNull();
      const [, dir, module] = match!;
      const source = join(ROOT, dir!, 'src', `${module}.ts`);
      expect(existsSync(source), source).toBe(true);
      const tsconfig = readTsconfig(dir!);
      expect(tsconfig.options.rootDir).toBe(join(ROOT, dir!, 'src'));
      expect(tsconfig.options.outDir).toBe(join(ROOT, dir!, 'dist'));
      expect(tsconfig.fileNames).toContain(source);
      // `tsc -b` builds only the projects the root tsconfig references.
      expect(references).toContain(join(ROOT, dir!));
    }
  });

  it('the image is the one every Node service in docker-compose.yml runs', () => {
    for (const name of NODE_SERVICES) {
      expect(service(name).build, name).toBe('.');
      expect(service(name).image, name).toBe(service('auth').image);
    }
  });
});
