import { runBenchScript } from '../children.js';
import { Cleanup } from '../cleanup.js';
import { mapLimit } from '../http.js';
import { type LoadResult, type LoadTool, runAutocannon, runLoad } from '../load.js';
import type { BenchOptions } from '../options.js';
import { ProfiledProcess, type ProfiledRun, describeProfiledRun, tryProfiling } from '../profiled.js';
import { type Pat, type Stack, startStack, stopService } from '../stack.js';
import { median } from '../stats.js';

interface CeilingRun {
  compares: number;
  seconds: number;
  perSec: number;
}

export interface ExchangeResult {
  bcryptCost: number;
  connections: number;
  /** bcrypt compares per second: one run before the first round, then one after each first-use run. */
  ceiling: number[];
  /** First-use exchanges per second, per round, and each one's ratio to the mean of the ceilings either side. */
  firstUse: LoadResult[];
  ratios: number[];
  repeated: LoadResult[];
  medianCeiling: number;
  medianFirstUse: number;
  medianRatio: number;
  medianRepeated: number;
  patsCreated: number;
  /** With `--profile`: the repeated exchange on a second auth under `node --cpu-prof`. */
  profile?: ProfiledRun | { error: string };
}

/** Concurrent PAT creations: each runs one bcrypt hash in auth, whose thread pool has four threads. */
const CREATE_CONCURRENCY = 4;

/**
 * Section 2: `POST /auth/v1/token` with a PAT never exchanged before (one bcrypt compare each) against raw
 * bcrypt compares at the same cost and concurrency, and the same PAT exchanged over and over (verified
 * once, then from auth's cache). Rounds interleave the three: ceiling, then first use, ceiling, repeated per round.
 */
export async function benchExchange(
  stack: Stack,
  options: BenchOptions,
  tool: LoadTool,
  log: (line: string) => void,
  /** Where `--profile` writes its `.cpuprofile` files. */
  profileDir: string,
): Promise<ExchangeResult> {
  const ceilingRun = (durationSec: number) =>
    runBenchScript<CeilingRun>(
      'bench/servers/bcrypt-ceiling.ts',
      {
        BCRYPT_COST: String(options.bcryptCost),
        CONCURRENCY: String(options.connections),
        DURATION_MS: String(durationSec * 1000),
        WARMUP_MS: '500',
      },
      durationSec * 1000 + 60_000,
    );

  // First use consumes one fresh PAT per request: size the supply from a first look at the ceiling.
  const estimate = (await ceilingRun(Math.max(2, options.warmupSec))).perSec;
  const perRound = Math.max(options.connections, Math.ceil(estimate * options.durationSec));
  const warmCount = options.connections;
  // autocannon builds each connection's next request ahead of time: a run may draw up to one PAT per
  // connection that it never sends. Those are skipped, never reused.
  const slack = 2 * options.connections;
  const total = perRound * options.rounds + warmCount + (options.rounds + 1) * slack;
  log(`  bcrypt ceiling estimate ${estimate.toFixed(1)}/s at cost ${options.bcryptCost}: creating ${total} PATs (${perRound} exchanged per round)`);
  const started = performance.now();
  const fresh: Pat[] = await mapLimit(Array.from({ length: total }), CREATE_CONCURRENCY, () => stack.createPat());
  log(`  created ${total} PATs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const repeatedPat = await stack.createPat();
  await stack.exchange(repeatedPat.key);

  const url = `${stack.auth.url}/auth/v1/token`;
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' };
  let drawn = 0;
  const firstUse = (amount: number) => {
    const supply = fresh.slice(drawn, drawn + amount + slack);
    drawn += supply.length;
    let next = 0;
    return runAutocannon({
      url,
      headers,
      connections: options.connections,
      durationSec: options.durationSec,
      amount,
      // Past the supply a request would reuse a PAT (the cached path): send a bad one, which voids the run.
      nextBody: () => `pat=${supply[next++]?.key ?? 'exhausted'}`,
    });
  };
  const repeatedBody = `pat=${repeatedPat.key}`;
  // The bench's load generator, as for the gateway: autocannon would run in this process, on the cores auth needs.
  const repeated = (durationSec: number) =>
    runLoad(tool, { url, headers, connections: options.connections, durationSec, method: 'POST', body: repeatedBody });
  const mustPass = (what: string, r: LoadResult): LoadResult => {
    if (r.failures > 0) throw new Error(`${what}: ${r.failures} of ${r.requests} exchanges failed`);
    return r;
  };

  mustPass('first-use warm-up', await firstUse(warmCount));
  if (options.warmupSec > 0) mustPass('repeated warm-up', await repeated(options.warmupSec));

  // Each first-use run sits between two ceiling runs (C F C R F C R ...) and is compared with their mean:
  // a machine getting busier or quieter during the round moves both sides of the ratio alike.
  const ceiling: number[] = [(await ceilingRun(options.durationSec)).perSec];
  const firstRuns: LoadResult[] = [];
  const repeatedRuns: LoadResult[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const f = mustPass(`first use, round ${round}`, await firstUse(perRound));
    if (f.requests !== perRound) throw new Error(`first use, round ${round}: ${f.requests} of ${perRound} exchanges completed`);
    firstRuns.push(f);
    const c = (await ceilingRun(options.durationSec)).perSec;
    ceiling.push(c);
    const bracket = (ceiling.at(-2)! + c) / 2;
    ratios.push(f.rps / bracket);
    const r = mustPass(`repeated, round ${round}`, await repeated(options.durationSec));
    repeatedRuns.push(r);
    log(`  round ${round}: first use ${f.rps.toFixed(1)}/s between bcrypt ceilings ${ceiling.at(-2)!.toFixed(1)} and ${c.toFixed(1)}/s (×${ratios.at(-1)!.toFixed(2)}), repeated ${Math.round(r.rps)}/s`);
  }

  const profile = options.profile
    ? await tryProfiling(async () => {
        const run = await profileRepeated(stack, options, tool, profileDir);
        log(`  ${describeProfiledRun(run)}`);
        return run;
      }, log)
    : undefined;

  return {
    bcryptCost: options.bcryptCost,
    connections: options.connections,
    ceiling,
    firstUse: firstRuns,
    ratios,
    repeated: repeatedRuns,
    medianCeiling: median(ceiling),
    medianFirstUse: median(firstRuns.map((r) => r.rps)),
    medianRatio: median(ratios),
    medianRepeated: median(repeatedRuns.map((r) => r.rps)),
    patsCreated: total + 1,
    ...(profile ? { profile } : {}),
  };
}

/**
 * `--profile`: the repeated exchange on a second stack whose auth runs under `--cpu-prof` (its own Redis and
 * PGlite, so the judged auth never ran under the profiler), warmed up, then one timed run per round. Auth writes
 * its profile as it exits, so it is stopped before the rest of that stack.
 */
async function profileRepeated(stack: Stack, options: BenchOptions, tool: LoadTool, dir: string): Promise<ProfiledRun> {
  const cleanup = new Cleanup();
  try {
    const profiled = new ProfiledProcess(dir, 'auth', 'auth, repeated exchange of one PAT');
    const second = await startStack(cleanup, { bcryptCost: options.bcryptCost, compiled: stack.compiled, authExecArgv: profiled.execArgv });
    const pat = await second.createPat();
    await second.exchange(pat.key);
    const run = async (durationSec: number) => {
      const result = await runLoad(tool, {
        url: `${second.auth.url}/auth/v1/token`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        connections: options.connections,
        durationSec,
        method: 'POST',
        body: `pat=${pat.key}`,
      });
      if (result.failures > 0) throw new Error(`profiled repeated exchange: ${result.failures} of ${result.requests} failed`);
      return result;
    };
    await run(Math.max(1, options.warmupSec));
    for (let round = 1; round <= options.rounds; round++) await profiled.timed(() => run(options.durationSec));
    await stopService(second.auth);
    return profiled.collect();
  } finally {
    await cleanup.run();
  }
}
