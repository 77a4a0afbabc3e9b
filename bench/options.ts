/**
 * What one `npm run bench` does, from flags (`npm run bench -- --quick --rounds=5`) or the environment
 * (`BENCH_QUICK=1 BENCH_ROUNDS=5 npm run bench`); a flag wins over the variable of the same name.
 */
export const SECTIONS = ['gateway', 'exchange', 'revocation', 'memory'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  /** Seconds of each timed run. */
  durationSec: number;
  /** Seconds of untimed load on each candidate before the first round. */
  warmupSec: number;
  rounds: number;
  connections: number;
  revocations: number;
  memoryTokens: number;
  memoryRevocations: number;
  /** bcrypt cost the auth service runs with and the ceiling is measured at (auth's BCRYPT_COST). */
  bcryptCost: number;
  /** Load generator for the gateway section: wrk when on the PATH, else autocannon. */
  loadgen: 'auto' | 'wrk' | 'autocannon';
  /** Extra environment for every Portcullis gateway the bench starts (experiments: `ACCESS_LOG=false`). */
  gatewayEnv: Record<string, string>;
  /** How auth and the gateways run: `dist` (compiled by `npm run build`, as the Docker image runs them) or `source` (tsx, as `npm start`). */
  from: 'dist' | 'source';
  /** After the gateway and exchange rounds, profile the bare proxy, the gateway and auth (`node --cpu-prof`) under the same loads. */
  profile: boolean;
  /** Gateway section: each candidate on a CPU of its own, the load generator and the rest on the others (bench/cpus.ts). */
  pin: boolean;
  sections: Section[];
  resultsDir: string;
}

const FULL = { durationSec: 5, warmupSec: 3, rounds: 3, revocations: 500, memoryTokens: 100_000, memoryRevocations: 100_000 };
const QUICK = { durationSec: 1, warmupSec: 1, rounds: 3, revocations: 30, memoryTokens: 5_000, memoryRevocations: 5_000 };

const HELP = `npm run bench [-- options]   (each option also reads BENCH_<NAME> from the environment)

  --quick                  short runs and small counts: a smoke test of the bench, not figures
  --duration=SECONDS       each timed run (default 5; quick 1); the gateway section cuts it into 1 s slices,
                           interleaved with the other candidates'
  --warmup=SECONDS         untimed load per candidate before the rounds (default 3; quick 1)
  --rounds=N               interleaved rounds (default 3, at least 3)
  --connections=N          concurrent connections of the load generator (default 32)
  --revocations=N          revocations timed across three gateways, after up to 20 untimed (default 500; quick 30)
  --memory-tokens=N        distinct tokens sent to the memory gateway (default 100000; quick 5000)
  --memory-revocations=N   revocation entries written for the memory gateway (default 100000; quick 5000)
  --bcrypt-cost=N          auth's BCRYPT_COST (default: $BCRYPT_COST, else 10)
  --loadgen=auto|wrk|autocannon   gateway-section load generator (default auto: wrk when installed)
  --gateway-env=K=V,K=V    extra environment for every gateway started (e.g. ACCESS_LOG=false); shown in the report
 --from=dist|source       run auth and the gateways compiled (default; the bench runs npm run build first, as
                           the Docker image runs them) or from source under tsx (as npm start)
  --profile                after the gateway rounds, a fresh bare proxy and gateway, and after the exchange
                           rounds, a second auth, loaded again under node --cpu-prof (not judged): CPU per
                           request by area and function in the report, and the .cpuprofile files (flame
                           graphs in Chrome DevTools or speedscope) next to it
  --pin=on|off             gateway section: each candidate alone on one CPU, the load generator, upstream,
                           auth, Redis and the bench on the others (default on; needs taskset and 2 CPUs);
                           off leaves all of them to the scheduler on every CPU
  --only=a,b               sections to run: gateway, exchange, revocation, memory (default all)
  --results=DIR            where the reports go (default bench/results)
`;

function flags(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg}\n\n${HELP}`);
    out.set(match[1]!, match[2] ?? 'true');
  }
  return out;
}

export function readOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const given = flags(argv);
  const raw = (name: string): string | undefined => given.get(name) ?? env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const flag = (name: string): boolean => ['1', 'true', 'yes'].includes((raw(name) ?? '').toLowerCase());
  const quick = flag('quick');
  const base = quick ? QUICK : FULL;
  const problems: string[] = [];
  const number = (name: string, fallback: number, min: number): number => {
    const value = raw(name);
    if (value === undefined || value === '') return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min) {
      problems.push(`--${name} (BENCH_${name.toUpperCase().replaceAll('-', '_')}) must be a number >= ${min}, got ${value}`);
      return fallback;
    }
    return parsed;
  };
  const loadgen = raw('loadgen') ?? 'auto';
  if (loadgen !== 'auto' && loadgen !== 'wrk' && loadgen !== 'autocannon') problems.push(`--loadgen must be auto, wrk or autocannon, got ${loadgen}`);
  const gatewayEnv: Record<string, string> = {};
  for (const pair of (raw('gateway-env') ?? '').split(',').filter((p) => p.trim() !== '')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (match) gatewayEnv[match[1]!] = match[2]!.trim();
    else problems.push(`--gateway-env: expected NAME=value, got ${pair}`);
  }
  const from = raw('from') ?? 'dist';
  if (from !== 'dist' && from !== 'source') problems.push(`--from must be dist or source, got ${from}`);
  const pin = (raw('pin') ?? 'on').toLowerCase();
  if (pin !== 'on' && pin !== 'off') problems.push(`--pin must be on or off, got ${pin}`);
  const only = raw('only');
  const sections = only === undefined ? [...SECTIONS] : only.split(',').map((s) => s.trim());
  for (const s of sections) if (!(SECTIONS as readonly string[]).includes(s)) problems.push(`--only: unknown section ${s}`);

  const options: BenchOptions = {
    quick,
    durationSec: Math.round(number('duration', base.durationSec, 1)),
    warmupSec: Math.round(number('warmup', base.warmupSec, 0)),
    rounds: Math.round(number('rounds', base.rounds, 3)),
    connections: Math.round(number('connections', 32, 1)),
    revocations: Math.round(number('revocations', base.revocations, 1)),
    memoryTokens: Math.round(number('memory-tokens', base.memoryTokens, 1)),
    memoryRevocations: Math.round(number('memory-revocations', base.memoryRevocations, 0)),
    bcryptCost: Math.round(number('bcrypt-cost', Number(env.BCRYPT_COST ?? 10), 4)),
    loadgen: loadgen as BenchOptions['loadgen'],
    gatewayEnv,
    from: from as BenchOptions['from'],
    profile: flag('profile'),
    pin: pin !== 'off',
    sections: sections as Section[],
    resultsDir: raw('results') ?? 'bench/results',
  };
  if (options.bcryptCost > 15) problems.push('--bcrypt-cost must be 4..15 (auth refuses anything else)');
  if (problems.length > 0) throw new Error(`bench options:\n  ${problems.join('\n  ')}\n\n${HELP}`);
  return options;
}
