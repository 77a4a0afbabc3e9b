import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type CpuProfile, type FunctionShare, type TimeShare, type Window, summarizeProfile } from './profile.js';

/** Sampling interval of the profiled runs, µs (V8's default is 1,000). */
export const PROFILE_INTERVAL_US = 250;
/** Functions kept per profiled run. */
const PROFILE_TOP = 25;

/**
 * One process under a section's load with the V8 sampling profiler on (which slows it: its req/s are not
 * comparable with the timed rounds'). Times are the main thread's, per request served during its timed runs.
 */
export interface ProfiledRun {
  name: string;
  label: string;
  /** The `.cpuprofile`, to open as a flame graph in Chrome DevTools (Performance) or speedscope. */
  file: string;
  requests: number;
  rps: number;
  /** Main-thread CPU per request, µs (samples while not idle). */
  busyUs: number;
  /** Self time by area, µs per request, largest first. */
  areas: TimeShare[];
  /** Self time by function, µs per request, the largest PROFILE_TOP. */
  functions: FunctionShare[];
}

/**
 * A process to profile: `execArgv` goes before its script (Node refuses `--cpu-prof` in NODE_OPTIONS). It
 * writes its profiles into a folder of its own when it exits (with `--import tsx`, the loader's thread
 * writes one too). `timed` runs one load and records when it ran and what it served; only the samples taken
 * during those runs count: the profile's clock is the monotonic one `process.hrtime` reads here.
 */
export class ProfiledProcess {
  readonly execArgv: string[];
  private readonly into: string;
  private readonly windows: Window[] = [];
  private requests = 0;
  private seconds = 0;

  constructor(
    private readonly dir: string,
    readonly name: string,
    readonly label: string,
  ) {
    this.into = join(dir, `${name}.threads`);
    mkdirSync(this.into, { recursive: true });
    this.execArgv = ['--cpu-prof', `--cpu-prof-interval=${PROFILE_INTERVAL_US}`, `--cpu-prof-dir=${this.into}`];
  }

  async timed(run: () => Promise<{ requests: number; rps: number }>): Promise<void> {
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const result = await run();
    this.windows.push({ fromUs, toUs: Number(process.hrtime.bigint() / 1000n) });
    this.requests += result.requests;
    this.seconds += result.requests / result.rps;
  }

  /** Once the process has exited: its main thread's profile, kept as `<name>.cpuprofile`, summarised. */
  collect(): ProfiledRun {
    // `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`; the main thread is 0.
    const found = readdirSync(this.into).filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    if (found.length !== 1) throw new Error(`${this.label}: expected one main-thread profile in ${this.into}, found ${readdirSync(this.into).join(', ') || 'none'}`);
    if (this.requests === 0) throw new Error(`${this.label}: no timed run to profile`);
    const file = join(this.dir, `${this.name}.cpuprofile`);
    renameSync(join(this.into, found[0]!), file);
    rmSync(this.into, { recursive: true, force: true });
    const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, this.windows);
    const perRequest = <T extends TimeShare>(share: T): T => ({ ...share, us: share.us / this.requests });
    return {
      name: this.name,
      label: this.label,
      file,
      requests: this.requests,
      rps: this.requests / this.seconds,
      busyUs: summary.busyUs / this.requests,
      areas: summary.areas.map(perRequest),
      functions: summary.functions.slice(0, PROFILE_TOP).map(perRequest),
    };
  }
}

export function describeProfiledRun(run: ProfiledRun): string {
  return `profiled ${run.label}: ${Math.round(run.rps)} req/s under the profiler, ${run.busyUs.toFixed(1)} µs of main-thread CPU per request (${run.file})`;
}

/**
 * Runs a section's optional profiling. Not judged: a profile that could not be taken is reported, and must
 * not cost the section's figures.
 */
export async function tryProfiling<T>(take: () => Promise<T>, log: (line: string) => void): Promise<T | { error: string }> {
  try {
    return await take();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`  profiling FAILED: ${message}`);
    return { error: message };
  }
}
