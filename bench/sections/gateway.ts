import { spawnBenchServer } from '../children.js';
import { Cleanup } from '../cleanup.js';
import { type CpuLayout, cpuLayout, describeLayout, pinProcess } from '../cpus.js';
import { call, keepAlive } from '../http.js';
import { type LoadResult, type LoadTool, runLoad } from '../load.js';
import type { BenchOptions } from '../options.js';
import { ProfiledProcess, type ProfiledRun, describeProfiledRun, tryProfiling } from '../profiled.js';
import { type Stack, TIMED_PATH, stopService } from '../stack.js';
import { GATEWAY_HEADER_NAMES } from '../servers/gateway-headers.js';
import { SLICE_SEC, mergeSlices, pairedP99Differences, slicePasses } from '../slices.js';
import { median } from '../stats.js';

export interface CandidateResult {
  name: string;
  label: string;
  runs: LoadResult[];
  /** Per round: this candidate's req/s ÷ the bare proxy's req/s in the same round. */
  ratios: number[];
  medianRatio: number;
  medianRps: number;
  medianP50Ms: number;
  medianP99Ms: number;
  /** Per round: this candidate's p99 − the bare proxy's p99 in the same round, ms. */
  p99Excess: number[];
  medianP99ExcessMs: number;
}

/**
 * Latency at one offered load, the same for the bare proxy and the gateway: half the gateway's own
 * throughput in the same round, measured on that round's processes after their throughput runs, so neither
 * is saturated (same load generator as the throughput rounds, paced), in 1 s slices taken in turns as the
 * throughput runs are; each p99 is that of all the round's slices' latencies together. Under the
 * saturating closed loop of the throughput rounds, latency is connections ÷ throughput (Little's law) and
 * restates the req/s ratio; at an equal offered load the p99 difference is what the gateway adds.
 */
export interface FixedRateResult {
  /** Requests per second offered to both, over all connections: the median of `rates`. */
  rate: number;
  /** Per round: the offered load, half the gateway's throughput in that round. */
  rates: number[];
  bare: LoadResult[];
  gateway: LoadResult[];
  /** Per round: gateway p99 − bare proxy p99 (of all the round's slices together), ms; printed, not judged. */
  p99Excess: number[];
  /**
   * Per pass of every round: the gateway's slice p99 − the bare proxy's slice p99 in the same pass (the two
   * slices timed one after the other), ms. Their median is what the p99 target judges: a stall of the host
   * strikes one slice of one candidate at random and, with 1 s slices, decides the p99 of that slice
   * alone instead of the whole round's.
   */
  sliceP99Excess: number[];
  medianSliceP99ExcessMs: number;
}

export interface GatewayResult {
  tool: LoadTool;
  path: string;
  connections: number;
  /** Each round's timed load per candidate: this many slices of `sliceSec`, in back-and-forth passes. */
  slices: number;
  sliceSec: number;
  candidates: CandidateResult[];
  fixedRate: FixedRateResult;
  checks: string[];
  /** Where the processes ran (bench/cpus.ts); absent when left to the scheduler (`--pin=off`, one CPU, no taskset). */
  cpus?: CpuLayout;
  /** With `--profile`: a fresh bare proxy and gateway under `node --cpu-prof`, in interleaved rounds of their own. */
  profiles?: ProfiledRun[] | { error: string };
}

/** The offered load of the latency rounds, as a share of the gateway's measured throughput. */
const FIXED_RATE_SHARE = 0.5;

/**
 * Untimed load at the offered rate before a candidate's latency slices, so they measure the steady state
 * at that load rather than the way into it. Two things were seen there (docs/benchmarks.md, section 1):
 * the first timed slice, always the bare proxy's, came after seconds of idleness and had two to three
 * times the p99 of the next ones; and for about 3 s after a saturating run the gateway's p99 at this load
 * stayed at 7-10 ms, against 3.5-5 ms after that (no major GC ran then; the cause is not known).
 */
const PACED_WARMUP_SEC = 3;

interface Candidate {
  name: string;
  label: string;
  url: string;
}

const ECHO_PATH = '/bench/__echo';
const BARE = 'bare';

/**
 * Section 1: the same GET, with the same session token, against the upstream itself, the bare node:http
 * proxy (the Node ceiling), express + http-proxy-middleware without auth, and the real gateway with every
 * check on. Each runs in its own process; the load generator runs outside all of them.
 */
export async function benchGateway(
  stack: Stack,
  options: BenchOptions,
  tool: LoadTool,
  log: (line: string) => void,
  /** Where `--profile` writes its `.cpuprofile` files. */
  profileDir: string,
): Promise<GatewayResult> {
  const local = new Cleanup();
  try {
    return await run(stack, options, tool, log, local, profileDir);
  } finally {
    await local.run();
  }
}

/** Gateway processes of the cluster-mode candidate: one per core here. */
const WORKERS = 2;

/** A candidate's process for one round. */
interface Running {
  url: string;
  stop(): Promise<void>;
}

/**
 * A candidate as the rounds use it: started afresh for every round and stopped after it. Two processes
 * of the same code, started the same way, can differ by 10-20% in req/s for as long as they live (the same
 * gateway build measured 10,100-12,800 req/s across five processes on one VM; why is not known, code
 * placement and the JIT's choices during warm-up being the usual suspects). One process per candidate for
 * the whole run would fix that luck into the ratios; a process per round samples it, and the median of
 * per-round ratios takes the middle.
 */
interface CandidateSpec {
  name: string;
  label: string;
  start(): Promise<Running>;
}

async function startRound(specs: readonly CandidateSpec[], cleanup: Cleanup): Promise<{ candidates: Candidate[]; stop: () => Promise<void> }> {
  const running: Running[] = [];
  const stop = async () => {
    for (const r of running.splice(0)) await r.stop();
  };
  cleanup.defer('round candidates', stop);
  try {
    for (const spec of specs) running.push(await spec.start());
  } catch (error) {
    await stop();
    throw error;
  }
  return { candidates: specs.map((spec, i) => ({ name: spec.name, label: spec.label, url: running[i]!.url })), stop };
}

/**
 * Moves the bench (and so the load generator it starts), the upstream, auth and Redis to the harness CPUs
 * for the section, and every one of them back to all CPUs afterwards.
 */
function placeHarness(stack: Stack, layout: CpuLayout, cleanup: Cleanup): void {
  const pids = [process.pid, stack.upstream.pid, stack.auth.pid, stack.redis.pid].filter((pid) => pid !== undefined);
  for (const pid of pids) {
    cleanup.defer(`cpu placement of ${pid}`, () => pinProcess(pid, layout.all));
    pinProcess(pid, layout.harness);
  }
}

async function run(stack: Stack, options: BenchOptions, tool: LoadTool, log: (line: string) => void, cleanup: Cleanup, profileDir: string): Promise<GatewayResult> {
  const layout = cpuLayout(options.pin);
  if (layout) placeHarness(stack, layout, cleanup);
  log(`  placement: ${describeLayout(layout)}`);
  const env = { UPSTREAM_URL: stack.upstream.url };
  const server = (script: string, extra: Record<string, string> = {}) => async (): Promise<Running> => {
    const child = await spawnBenchServer(script, { ...env, ...extra }, [], layout?.candidate);
    return { url: child.url, stop: () => child.stop() };
  };
  const gateway = (extra: Record<string, string> = {}, cpus = layout?.candidate) => async (): Promise<Running> => {
    const child = await stack.startGateway(extra, [], cpus);
    return { url: child.url, stop: () => stopService(child) };
  };
  const specs: CandidateSpec[] = [
    { name: 'upstream', label: 'upstream direct (no proxy)', start: () => Promise.resolve({ url: stack.upstream.url, stop: () => Promise.resolve() }) },
    { name: BARE, label: 'bare node:http keep-alive proxy', start: server('bench/servers/bare-proxy.ts') },
    // Not a target candidate: the bare proxy plus the headers the gateway adds, to price them apart.
    { name: 'bare-headers', label: "the same + the gateway's 8 upstream headers (not judged)", start: server('bench/servers/bare-proxy.ts', { GATEWAY_HEADERS: '1' }) },
    // Not a target candidate: the library the gateway forwards with, alone, to show its own ceiling.
    { name: 'plain-hpm', label: 'http-proxy-middleware on plain node:http, no auth (not judged)', start: server('bench/servers/hpm-proxy.ts') },
    { name: 'plain-hpm-headers', label: "http-proxy-middleware + the gateway's 8 headers (not judged)", start: server('bench/servers/hpm-proxy.ts', { GATEWAY_HEADERS: '1' }) },
    { name: 'express-hpm', label: 'express 5 + http-proxy-middleware, no auth', start: server('bench/servers/express-proxy.ts') },
    { name: 'portcullis', label: 'Portcullis gateway, every check on', start: gateway() },
    // Not a target candidate (two processes against one): what GATEWAY_WORKERS buys on this machine.
    { name: 'portcullis-workers', label: `the same, GATEWAY_WORKERS=${WORKERS} (not judged)`, start: gateway({ GATEWAY_WORKERS: String(WORKERS) }, layout?.all) },
  ];

  const token = await stack.exchange((await stack.createPat()).key);
  const foreign = await stack.exchange((await stack.createPat(['bench:other'])).key);
  const headers = { Authorization: `Bearer ${token}` };
  const load = (c: Candidate, durationSec: number) => runLoad(tool, { url: `${c.url}${TIMED_PATH}`, connections: options.connections, durationSec, headers });
  const warmUp = async (c: Candidate, round: number) => {
    if (options.warmupSec <= 0) return;
    const warm = await load(c, options.warmupSec);
    if (warm.failures > 0) throw new Error(`${c.label}: ${warm.failures} failed requests during warm-up`);
    log(`  round ${round} warm-up ${c.label}: ${Math.round(warm.rps)} req/s`);
  };

  /** One round's timed load of `group` (bench/slices.ts), with each candidate's slices merged. */
  const inSlices = async (group: readonly Candidate[], round: number, ratePerSec?: number) => {
    const slices = new Map<string, LoadResult[]>(group.map((c) => [c.name, []]));
    for (const [pass, order] of slicePasses(group, options.durationSec).entries()) {
      for (const c of order) {
        const result = await runLoad(tool, {
          url: `${c.url}${TIMED_PATH}`,
          connections: options.connections,
          durationSec: SLICE_SEC,
          headers,
          histogram: true,
          ...(ratePerSec === undefined ? {} : { ratePerSec }),
        });
        const at = ratePerSec === undefined ? '' : ` at ${ratePerSec} req/s`;
        if (result.failures > 0) throw new Error(`${c.label}: ${result.failures} of ${result.requests} requests failed${at} in round ${round}, pass ${pass + 1}`);
        slices.get(c.name)!.push(result);
      }
    }
    return new Map([...slices].map(([name, own]) => [name, { result: mergeSlices(own), slices: own }]));
  };

  let checks: string[] = [];
  const runs = new Map<string, LoadResult[]>(specs.map((c) => [c.name, []]));
  const fixed = { rates: [] as number[], bare: [] as LoadResult[], gateway: [] as LoadResult[], sliceP99Excess: [] as number[] };
  for (let round = 1; round <= options.rounds; round++) {
    const { candidates, stop } = await startRound(specs, cleanup);
    // Every round's fresh processes are checked before they are timed; the lines are the same each time.
    const verified = await verify(candidates, headers, foreign);
    if (round === 1) {
      checks = verified;
      for (const line of checks) log(`  ok  ${line}`);
    }
    for (const c of candidates) await warmUp(c, round);
    const timed = await inSlices(candidates, round);
    for (const c of candidates) {
      const { result, slices } = timed.get(c.name)!;
      runs.get(c.name)!.push(result);
      log(`  round ${round} ${c.label}: ${Math.round(result.rps)} req/s (slices ${slices.map((r) => Math.round(r.rps)).join(' ')}), p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
    }
    // Then the same round's bare proxy and gateway at one offered load: half the gateway's throughput in
    // this round, in slices too, after PACED_WARMUP_SEC untimed at that load each (see its comment).
    const rate = Math.round(FIXED_RATE_SHARE * runs.get('portcullis')!.at(-1)!.rps);
    fixed.rates.push(rate);
    const pair = candidates.filter((c) => c.name === BARE || c.name === 'portcullis');
    for (const c of pair) {
      const warm = await runLoad(tool, { url: `${c.url}${TIMED_PATH}`, connections: options.connections, durationSec: PACED_WARMUP_SEC, headers, ratePerSec: rate });
      if (warm.failures > 0) throw new Error(`${c.label}: ${warm.failures} failed requests warming up at ${rate} req/s in round ${round}`);
    }
    const paced = await inSlices(pair, round, rate);
    fixed.sliceP99Excess.push(...pairedP99Differences(paced.get(BARE)!.slices, paced.get('portcullis')!.slices));
    for (const [name, { result, slices }] of paced) {
      fixed[name === BARE ? 'bare' : 'gateway'].push(result);
      log(`  round ${round} at ${rate} req/s ${candidates.find((c) => c.name === name)!.label}: ${Math.round(result.rps)} req/s (p99 of slices ${slices.map((r) => r.p99Ms.toFixed(1)).join(' ')}), p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
    }
    await stop();
  }

  const bareRuns = runs.get(BARE)!;
  const fixedP99Excess = fixed.gateway.map((r, i) => r.p99Ms - fixed.bare[i]!.p99Ms);
  const fixedRate: FixedRateResult = {
    rate: median(fixed.rates),
    ...fixed,
    p99Excess: fixedP99Excess,
    medianSliceP99ExcessMs: median(fixed.sliceP99Excess),
  };

  const profiles = options.profile ? await tryProfiling(() => profileRuns(stack, options, tool, headers, profileDir, log, layout?.candidate), log) : undefined;
  return {
    tool,
    path: TIMED_PATH,
    connections: options.connections,
    slices: slicePasses(specs, options.durationSec).length,
    sliceSec: SLICE_SEC,
    fixedRate,
    checks,
    ...(layout ? { cpus: layout } : {}),
    ...(profiles ? { profiles } : {}),
    candidates: specs.map((c) => {
      const own = runs.get(c.name)!;
      const ratios = own.map((r, i) => r.rps / bareRuns[i]!.rps);
      const p99Excess = own.map((r, i) => r.p99Ms - bareRuns[i]!.p99Ms);
      return {
        name: c.name,
        label: c.label,
        runs: own,
        ratios,
        medianRatio: median(ratios),
        medianRps: median(own.map((r) => r.rps)),
        medianP50Ms: median(own.map((r) => r.p50Ms)),
        medianP99Ms: median(own.map((r) => r.p99Ms)),
        p99Excess,
        medianP99ExcessMs: median(p99Excess),
      };
    }),
  };
}

/**
 * `--profile`: a fresh bare proxy and a fresh gateway under `--cpu-prof`, warmed up, then loaded in
 * interleaved rounds like the timed ones (the host's speed drifts; a single run each would compare two
 * different moments).
 */
async function profileRuns(
  stack: Stack,
  options: BenchOptions,
  tool: LoadTool,
  headers: Record<string, string>,
  dir: string,
  log: (line: string) => void,
  /** Where each runs, as in the timed rounds. */
  cpus: string | undefined,
): Promise<ProfiledRun[]> {
  const subjects: { profile: ProfiledProcess; url: string; stop: () => Promise<void> }[] = [];
  try {
    const bareProfile = new ProfiledProcess(dir, BARE, 'bare node:http keep-alive proxy');
    const bare = await spawnBenchServer('bench/servers/bare-proxy.ts', { UPSTREAM_URL: stack.upstream.url }, bareProfile.execArgv, cpus);
    subjects.push({ profile: bareProfile, url: bare.url, stop: () => bare.stop() });
    const gatewayProfile = new ProfiledProcess(dir, 'portcullis', 'Portcullis gateway, every check on');
    const gateway = await stack.startGateway({}, gatewayProfile.execArgv, cpus);
    subjects.push({ profile: gatewayProfile, url: gateway.url, stop: () => stopService(gateway) });

    const load = async (s: (typeof subjects)[number], durationSec: number) => {
      const result = await runLoad(tool, { url: `${s.url}${TIMED_PATH}`, connections: options.connections, durationSec, headers });
      if (result.failures > 0) throw new Error(`${s.profile.label} (profiled): ${result.failures} of ${result.requests} requests failed`);
      return result;
    };
    for (const s of subjects) await load(s, Math.max(1, options.warmupSec));
    for (let round = 1; round <= options.rounds; round++) {
      for (const s of subjects) await s.profile.timed(() => load(s, options.durationSec));
    }
  } finally {
    for (const s of subjects) await s.stop();
  }
  return subjects.map((s) => {
    const run = s.profile.collect();
    log(`  ${describeProfiledRun(run)}`);
    return run;
  });
}

/**
 * Nothing is timed before every candidate answers the timed request with the upstream's 200 body, and the
 * gateway proves each check is on: no token 401, a token without the route's permission 403, and the
 * upstream sees the identity headers the gateway set (and not one a client tried to set).
 */
async function verify(candidates: Candidate[], headers: Record<string, string>, foreignToken: string): Promise<string[]> {
  const agent = keepAlive();
  const lines: string[] = [];
  const expect = (cond: boolean, what: string, detail: string) => {
    if (!cond) throw new Error(`check failed: ${what}: ${detail}`);
    lines.push(what);
  };
  try {
    for (const c of candidates) {
      const res = await call(agent, `${c.url}${TIMED_PATH}`, { headers });
      expect(res.status === 200 && res.body === '{"ok":true}\n', `${c.label}: GET ${TIMED_PATH} with the token answers 200 and the upstream's body`, `${res.status} ${res.body}`);
    }
    for (const c of candidates.filter((c) => c.name.endsWith('-headers'))) {
      const echoed = await call(agent, `${c.url}${ECHO_PATH}`, { headers });
      const seen = (JSON.parse(echoed.body) as { headers: Record<string, string> }).headers;
      const missing = GATEWAY_HEADER_NAMES.filter((name) => seen[name] === undefined);
      expect(echoed.status === 200 && missing.length === 0 && echoed.headers['x-request-id'] === seen['x-request-id'], `${c.label}: upstream receives the 8 headers, client gets the request id`, `missing ${missing.join(', ')}`);
    }
    const gateway = candidates.find((c) => c.name === 'portcullis')!;
    const bare = await call(agent, `${gateway.url}${TIMED_PATH}`);
    expect(bare.status === 401 && /^Bearer /.test(String(bare.headers['www-authenticate'])), 'gateway without a token: 401 with WWW-Authenticate', `${bare.status}`);
    const foreign = await call(agent, `${gateway.url}${TIMED_PATH}`, { headers: { Authorization: `Bearer ${foreignToken}` } });
    expect(foreign.status === 403, 'gateway with a valid token lacking the route permission: 403', `${foreign.status} ${foreign.body}`);
    const echoed = await call(agent, `${gateway.url}${ECHO_PATH}`, { headers: { ...headers, 'X-Auth-Subject': 'forged' } });
    const seen = (JSON.parse(echoed.body) as { headers: Record<string, string> }).headers;
    expect(
      echoed.status === 200 && typeof seen['x-auth-subject'] === 'string' && seen['x-auth-subject'] !== 'forged' && seen['x-auth-scope'] !== undefined && seen['x-auth-token-id'] !== undefined,
      'gateway: upstream receives X-Auth-Subject/-Scope/-Token-Id set by the gateway, not the client',
      echoed.body,
    );
  } finally {
    agent.destroy();
  }
  return lines;
}
