import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ServiceProcess, listeningUrl } from '../test/support/processes.js';
import { onCpus } from './cpus.js';

export const ROOT = resolve(import.meta.dirname, '..');
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const TAIL_LINES = 200;

/** Every child the bench started itself, SIGKILLed when the bench exits however it exits. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Environment shared by every candidate and service the bench starts: the same NODE_ENV for all, so none
 * runs a development code path the others skip.
 */
export const CHILD_ENV = { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } as const;

export interface BenchProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last lines it wrote, for error messages. */
  tail(): string;
  stop(): Promise<void>;
}

/** `cpus`: a CPU list the process starts on (bench/cpus.ts); by default the bench's own placement. */
function nodeArgs(script: string, execArgv: readonly string[] = [], compiled = false, cpus?: string): [string, string[]] {
  const argv = [...execArgv, ...(compiled ? [] : ['--conditions=source', '--import', 'tsx']), join(ROOT, script)];
  const [file, args] = onCpus(cpus, process.execPath, argv);
  // setpriv makes the kernel kill the child if the bench dies without running its exit hook (SIGKILL).
  // It execs the rest, taskset included, in the same process, which keeps that setting.
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', file, ...args]] : [file, args];
}

function collectLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts one of the bench's own servers (`bench/servers/*.ts`) in its own Node process, the way the
 * services run (tsx, source condition), and resolves once it prints `{"msg":"listening","url":...}`.
 * `execArgv`: Node options before the script (`--cpu-prof`); `cpus`: where it runs (bench/cpus.ts).
 */
export function spawnBenchServer(script: string, env: Record<string, string>, execArgv: readonly string[] = [], cpus?: string): Promise<BenchProcess> {
  const [file, argv] = nodeArgs(script, execArgv, false, cpus);
  const child = spawn(file, argv, { cwd: ROOT, env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: string[] = [];
  const tail = () => lines.join('\n');

  return new Promise<BenchProcess>((ready, fail) => {
    const timer = setTimeout(() => {
      void stopChild(child);
      fail(new Error(`${script} did not start:\n${tail()}`));
    }, READY_TIMEOUT_MS);
    collectLines(child, (line) => {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      const url = parseListening(line);
      if (url === undefined) return;
      clearTimeout(timer);
      ready({ url, pid: child.pid!, child, tail, stop: () => stopChild(child) });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${script} exited (${code ?? signal}):\n${tail()}`));
    });
  });
}

function parseListening(line: string): string | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const record = JSON.parse(line) as { msg?: unknown; url?: unknown };
    return record.msg === 'listening' && typeof record.url === 'string' ? record.url : undefined;
  } catch {
    return undefined;
  }
}

/** Runs a bench script to completion and returns the last JSON line it printed (its result). */
export function runBenchScript<T>(script: string, env: Record<string, string>, timeoutMs: number): Promise<T> {
  const [file, argv] = nodeArgs(script);
  const child = spawn(file, argv, { cwd: ROOT, env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: string[] = [];
  collectLines(child, (line) => lines.push(line));
  return new Promise<T>((done, fail) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      const last = lines.filter((l) => l.startsWith('{')).at(-1);
      if (code !== 0 || last === undefined) return fail(new Error(`${script} exited (${code ?? signal}):\n${lines.join('\n')}`));
      done(JSON.parse(last) as T);
    });
  });
}

/** Auth or a gateway started by `spawnLoggingService`. */
export interface LoggingService extends ServiceProcess {
  readonly pid: number;
  /** The last lines of its log file (access lines left out) and of its stderr, for error messages. */
  tail(): string;
}

const LOG_POLL_MS = 20;

/**
 * Starts auth or a gateway, its real main (`dist/main.js` when `compiled`, as the Docker image runs it, else
 * `src/main.ts` under tsx), with its stdout going straight to `logFile` and resolves once it logs that it
 * listens, with the URL it bound.
 *
 * Both log a line per request to stdout. Through a pipe, every line would have to be read by the bench
 * process, on the same two cores as the candidates and the load generator: measured at 10–14 µs of the
 * bench's CPU per request the gateway served, work the bench added to the gateway's figure and to no other
 * candidate's. Into a file, the service still formats and writes every line; nothing reads them while timed.
 */
export function spawnLoggingService(
  service: 'auth' | 'gateway',
  env: Record<string, string>,
  options: { compiled: boolean; execArgv?: readonly string[]; logFile: string; cpus?: string | undefined },
): Promise<LoggingService> {
  const script = options.compiled ? `services/${service}/dist/main.js` : `services/${service}/src/main.ts`;
  const [file, argv] = nodeArgs(script, options.execArgv, options.compiled, options.cpus);
  const out = openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(file, argv, { cwd: ROOT, env: { ...CHILD_ENV, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', out, 'pipe'] });
  } finally {
    closeSync(out);
  }
  running.add(child);
  const stderr: string[] = [];
  collectLines(child, (line) => {
    stderr.push(line);
    if (stderr.length > TAIL_LINES) stderr.shift();
  });
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      running.delete(child);
      done(code);
    }),
  );
  const logLines = () => (existsSync(options.logFile) ? readFileSync(options.logFile, 'utf8').split('\n') : []);
  // What went wrong is in the lines that are not per-request access lines.
  const tail = () => [...logLines().filter((line) => !line.includes('"msg":"request"')).slice(-20), ...stderr.slice(-20)].join('\n');

  return new Promise<LoggingService>((ready, fail) => {
    let settled = false;
    const finish = (error?: Error) => {
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      if (error) {
        void stopChild(child);
        fail(error);
      }
    };
    const timer = setTimeout(() => finish(new Error(`${service} did not start:\n${tail()}`)), READY_TIMEOUT_MS);
    const poll = setInterval(() => {
      // Only read while starting: the file holds a few lines then.
      const url = logLines().map(listeningUrl).find((u) => u !== undefined);
      if (url === undefined || settled) return;
      finish();
      // SIGTERM only: the caller's stopService decides when to give up and SIGKILL.
      const stop = () => {
        child.kill('SIGTERM');
        return exited;
      };
      ready({ url, pid: child.pid!, child, output: stderr, tail, stop });
    }, LOG_POLL_MS);
    void exited.then((code) => {
      if (!settled) finish(new Error(`${service} exited with ${code}:\n${tail()}`));
    });
  });
}

/**
 * RSS of an idle Node process after `settleMs`, with or without the tsx loader every service runs under in the
 * bench (`--import tsx` starts a loader thread with its own V8 heap; production runs compiled JS without it).
 */
export async function idleNodeRss(withTsx: boolean, settleMs: number): Promise<number> {
  const loader = withTsx ? ['--conditions=source', '--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...loader, '-e', 'setInterval(() => {}, 1000)'], { cwd: ROOT, env: { ...CHILD_ENV }, stdio: 'ignore' });
  running.add(child);
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    return residentSet(child.pid!).rssBytes;
  } finally {
    await stopChild(child);
    running.delete(child);
  }
}

/** Resident set size of a process in bytes, from /proc (VmRSS), plus its peak (VmHWM). */
export function residentSet(pid: number): { rssBytes: number; peakBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kib('VmRSS'), peakBytes: kib('VmHWM') };
}
