import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ROOT } from './children.js';
import { percentile } from './stats.js';

/** One timed run of a load generator against one URL. Latencies are in milliseconds. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers other than 2xx, and socket errors and timeouts: any of them voids the run. */
  failures: number;
  /**
   * With `histogram` in the run: every latency, as [microseconds, count] pairs in ascending order, so that
   * several runs can be merged into exact percentiles (bench/slices.ts). Not kept in reports.
   */
  histogramUs?: [number, number][];
}

export interface LoadRun {
  url: string;
  connections: number;
  durationSec: number;
  headers: Record<string, string>;
  /**
   * An offered load in requests per second, instead of as fast as answers come back. wrk paces each
   * connection (a fixed wait after each answer); autocannon's overallRate releases each second's share
   * in a burst, so its latencies at a rate include that burst.
   */
  ratePerSec?: number;
  /** GET by default. */
  method?: 'GET' | 'POST';
  /** The same body on every request. */
  body?: string;
  /** Also return the latency distribution (`LoadResult.histogramUs`). */
  histogram?: boolean;
}

export type LoadTool = 'wrk' | 'autocannon';

export function wrkVersion(): string | undefined {
  try {
    // wrk prints its version in the usage text and exits 1 when given no URL.
    execFileSync('wrk', ['--version'], { stdio: 'pipe' });
  } catch (error) {
    const out = String((error as { stdout?: Buffer }).stdout ?? '');
    const match = /wrk (\S+)/.exec(out);
    if (match) return match[1];
  }
  return undefined;
}

export function pickLoadTool(wanted: 'auto' | LoadTool): LoadTool {
  if (wanted === 'autocannon') return 'autocannon';
  if (wrkVersion() !== undefined) return 'wrk';
  if (wanted === 'wrk') throw new Error('--loadgen=wrk but wrk is not on the PATH (apt-get install wrk)');
  return 'autocannon';
}

export function runLoad(tool: LoadTool, run: LoadRun): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(run) : runAutocannon(run);
}

/**
 * wrk with one thread (the generator never takes more than one of the two cores), a Lua `done` hook that
 * prints the exact figures as JSON: latencies with microsecond resolution, every error counted.
 */
function runWrk(run: LoadRun): Promise<LoadResult> {
  const args = ['-t1', `-c${run.connections}`, `-d${run.durationSec}s`, '--timeout', '10s', '-s', join(ROOT, 'bench/wrk-report.lua')];
  for (const [name, value] of Object.entries(run.headers)) args.push('-H', `${name}: ${value}`);
  args.push(run.url);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (run.ratePerSec !== undefined) env.WRK_PACE_MS = String(Math.max(1, Math.round((run.connections * 1000) / run.ratePerSec)));
  if (run.method !== undefined) env.WRK_METHOD = run.method;
  if (run.body !== undefined) env.WRK_BODY = run.body;
  if (run.histogram === true) env.WRK_HISTOGRAM = '1';
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{"wrk"'));
      if (code !== 0 || line === undefined) return fail(new Error(`wrk exited ${code}:\n${out}`));
      const r = JSON.parse(line) as {
        requests: number; duration_us: number; p50_us: number; p99_us: number; max_us: number;
        errors: { connect: number; read: number; write: number; status: number; timeout: number };
        histogram_us?: [number, number][];
      };
      const seconds = r.duration_us / 1e6;
      const e = r.errors;
      done({
        requests: r.requests,
        seconds,
        rps: r.requests / seconds,
        p50Ms: r.p50_us / 1000,
        p99Ms: r.p99_us / 1000,
        maxMs: r.max_us / 1000,
        failures: e.connect + e.read + e.write + e.status + e.timeout,
        ...(r.histogram_us ? { histogramUs: r.histogram_us } : {}),
      });
    });
  });
}

/** An autocannon run may also send a body of its own for every request, and stop after a count. */
export interface AutocannonRun extends LoadRun {
  /** Called once per request: its body (the exchange bench hands out a fresh PAT each time). */
  nextBody?: () => string;
  /** Stop after this many requests instead of after `durationSec`; `durationSec` then only bounds a stall. */
  amount?: number;
}

/**
 * autocannon keeps latencies in whole milliseconds; each response's own time (a float from hrtime) is kept
 * here instead, so p50 and p99 are as precise as wrk's.
 *
 * The run's length is taken from its start to its last answer. autocannon notices the end of a run only on
 * its next one-second sampling tick: a count-bounded run that has had all its answers sits idle until then,
 * and timing up to the callback would add that idle time (up to a second, a sixth of a 6 s first-use run).
 */
export function runAutocannon(run: AutocannonRun): Promise<LoadResult> {
  const latencies: number[] = [];
  let failures = 0;
  const next = run.nextBody;
  const started = performance.now();
  let lastAnswer = started;
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url: run.url,
        connections: run.connections,
        headers: run.headers,
        timeout: 10,
        ...(run.amount !== undefined ? { amount: run.amount } : { duration: run.durationSec }),
        ...(run.ratePerSec !== undefined ? { overallRate: run.ratePerSec } : {}),
        ...(next !== undefined
          ? { requests: [{ method: run.method ?? 'POST', setupRequest: (req: autocannon.Request) => ({ ...req, body: next() }) }] }
          : { method: run.method ?? 'GET', ...(run.body !== undefined ? { body: run.body } : {}) }),
      },
      (error, result) => {
        clearTimeout(stall);
        if (error) return fail(error instanceof Error ? error : new Error(String(error)));
        const seconds = (lastAnswer - started) / 1000;
        latencies.sort((a, b) => a - b);
        failures += result.errors + result.timeouts;
        done({
          requests: latencies.length,
          seconds,
          rps: seconds > 0 ? latencies.length / seconds : 0,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          maxMs: latencies.at(-1) ?? NaN,
          failures,
          ...(run.histogram === true ? { histogramUs: histogramOf(latencies) } : {}),
        });
      },
    );
    // A count-bounded run that stalls is still stopped: the bench is bounded in time whatever happens.
    const stall = setTimeout(() => instance.stop(), (run.amount !== undefined ? run.durationSec * 4 + 30 : run.durationSec + 30) * 1000);
    instance.on('response', (_client, status: number, _bytes, responseTime: number) => {
      lastAnswer = performance.now();
      if (status < 200 || status > 299) failures++;
      latencies.push(responseTime);
    });
  });
}

/** Ascending latencies in ms as wrk's distribution: [whole microseconds, count] pairs. */
export function histogramOf(sortedMs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const ms of sortedMs) {
    const us = Math.round(ms * 1000);
    const last = out.at(-1);
    if (last !== undefined && last[0] === us) last[1] += 1;
    else out.push([us, 1]);
  }
  return out;
}
