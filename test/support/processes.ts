import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const READY_TIMEOUT_MS = 30_000;

/** Every service still running, killed when the test process exits, even on a crash. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every line the service wrote, stdout and stderr, for assertions on logs. */
  readonly output: string[];
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** The first admin of every auth process the cross-process tests start. */
export const TEST_ADMIN = { email: 'admin@example.test', password: 'correct horse battery staple' } as const;

/** A real auth process on a free loopback port with TEST_ADMIN and fast bcrypt; `env` adds or overrides. */
export function spawnAuth(dataDir: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  return spawnService('auth', {
    AUTH_PORT: '0',
    AUTH_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    BCRYPT_COST: '4',
    ...env,
  });
}

/**
 * Starts a service's real `main.ts` in its own Node process (as `npm start` runs it: tsx, source
 * condition; or, `compiled`, as the Docker image does: `node services/<name>/dist/main.js` after
 * `npm run build`) and resolves once it logs that it listens, with the URL it bound.
 */
export function spawnService(
  service: 'auth' | 'gateway',
  env: Record<string, string>,
  /** `execArgv`: Node options before the script (the bench's `--cpu-prof`, which NODE_OPTIONS refuses). */
  options: { compiled?: boolean; execArgv?: string[] } = {},
): Promise<ServiceProcess> {
  const script = options.compiled
    ? [join(ROOT, `services/${service}/dist/main.js`)]
    : ['--conditions=source', '--import', 'tsx', join(ROOT, `services/${service}/src/main.ts`)];
  const argv = [...(options.execArgv ?? []), ...script];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const output: string[] = [];
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => {
    running.delete(child);
    done(code);
  }));

  return new Promise<ServiceProcess>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`${service} did not start:\n${output.join('\n')}`)), READY_TIMEOUT_MS);
    const onLine = (line: string) => {
      output.push(line);
      const url = listeningUrl(line);
      if (!url) return;
      clearTimeout(timer);
      ready({
        url,
        child,
        output,
        stop: async () => {
          child.kill('SIGTERM');
          return exited;
        },
      });
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${service} exited with ${code}:\n${output.join('\n')}`));
    });
  });
}

/** The URL in auth's `auth listening` log line, or a gateway's `gateway listening` (loopback, its port). */
export function listeningUrl(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  let record: { msg?: unknown; url?: unknown; port?: unknown };
  try {
    record = JSON.parse(line) as typeof record;
  } catch {
    return undefined;
  }
  if (record.msg === 'auth listening' && typeof record.url === 'string') return record.url;
  if (record.msg === 'gateway listening' && typeof record.port === 'number') return `http://127.0.0.1:${record.port}`;
  return undefined;
}

/** Runs a service that is expected to refuse to start; resolves with its exit code and output. */
export function runToExit(service: 'auth' | 'gateway' | 'standalone', env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(ROOT, `services/${service}/src/main.ts`)], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) =>
    child.once('exit', (code) => {
      running.delete(child);
      done({ code, stdout, stderr });
    }),
  );
}

/** A data folder for one test's PGlite, removed by the returned function. */
export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
