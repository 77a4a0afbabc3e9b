import { describeLayout } from './cpus.js';
import type { MachineInfo } from './machine.js';
import type { BenchOptions } from './options.js';
import type { ExchangeResult } from './sections/exchange.js';
import { PROFILE_INTERVAL_US, type ProfiledRun } from './profiled.js';
import type { GatewayResult } from './sections/gateway.js';
import { type MemoryResult, SETTLE_MS } from './sections/memory.js';
import type { RevocationResult } from './sections/revocation.js';
import { mb, median } from './stats.js';

export type Outcome<T> = T | { error: string };

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: MachineInfo;
  /** The gateway section's load generator, with its version. */
  loadTool: string;
  gateway?: Outcome<GatewayResult>;
  exchange?: Outcome<ExchangeResult>;
  revocation?: Outcome<RevocationResult>;
  memory?: Outcome<MemoryResult>;
}

export interface Target {
  goal: string;
  value: string;
  /** undefined: not measured in this run (section skipped or failed). */
  pass: boolean | undefined;
}

function ok<T>(outcome: Outcome<T> | undefined): T | undefined {
  if (outcome === undefined) return undefined;
  return typeof outcome === 'object' && outcome !== null && 'error' in outcome ? undefined : outcome;
}

const signedMs = (ms: number): string => `${ms >= 0 ? '+' : ''}${ms.toFixed(2)} ms`;

const num = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The issue's targets, each judged on this run's own figures. */
export function targets(report: BenchReport): Target[] {
  const gateway = ok(report.gateway);
  const portcullis = gateway?.candidates.find((c) => c.name === 'portcullis');
  const exchange = ok(report.exchange);
  const revocation = ok(report.revocation);
  const memory = ok(report.memory);
  const peak = memory?.peakBytes;
  return [
    {
      goal: 'gateway req/s >= 0.80x bare proxy (median of per-round ratios)',
      value: portcullis ? `${portcullis.medianRatio.toFixed(2)}x` : 'n/a',
      pass: portcullis && portcullis.medianRatio >= 0.8,
    },
    {
      goal: 'gateway p99 <= bare proxy p99 + 1 ms at the same offered load (median of paired 1 s slices)',
      value: gateway ? signedMs(gateway.fixedRate.medianSliceP99ExcessMs) : 'n/a',
      pass: gateway && gateway.fixedRate.medianSliceP99ExcessMs <= 1,
    },
    {
      goal: 'exchange first use >= 0.90x bcrypt ceiling (median of per-round ratios)',
      value: exchange ? `${exchange.medianRatio.toFixed(2)}x` : 'n/a',
      pass: exchange && exchange.medianRatio >= 0.9,
    },
    {
      goal: 'repeated exchange >= 2,000/s',
      value: exchange ? `${num(exchange.medianRepeated)}/s` : 'n/a',
      pass: exchange && exchange.medianRepeated >= 2000,
    },
    {
      goal: `revocation p99 < 10 ms (3 gateways)`,
      value: revocation ? `${revocation.p99Ms.toFixed(2)} ms` : 'n/a',
      pass: revocation && revocation.p99Ms < 10 && revocation.timedOut === 0,
    },
    {
      goal: 'gateway RSS < 200 MB (peak VmHWM over the memory test)',
      value: peak !== undefined ? `${mb(peak)} MB` : 'n/a',
      pass: peak !== undefined ? peak < 200 * 2 ** 20 : undefined,
    },
  ];
}

const verdict = (pass: boolean | undefined): string => (pass === undefined ? '-' : pass ? 'PASS' : 'MISS');

/** How a round's timed load was cut (bench/slices.ts). */
function slicesText(g: GatewayResult): string {
  return g.slices === 1
    ? `one timed run of ${g.sliceSec} s per candidate`
    : `${g.slices} passes over the candidates, back and forth (A B C, C B A, ...), each candidate loaded ${g.sliceSec} s per pass; ` +
        "a candidate's req/s is its slices' requests over their time, p50 and p99 those of all its slices' answers";
}

/** `; reloads: sequence_gap 2, reconnect 1`, or nothing when the gateway never reloaded. */
function reloadReasons(m: MemoryResult): string {
  const reasons = Object.entries(m.revocationReloads ?? {});
  return reasons.length === 0 ? '' : `; reloads: ${reasons.map(([reason, count]) => `${reason} ${count}`).join(', ')}`;
}

function header(report: BenchReport): string[] {
  const m = report.machine;
  const o = report.options;
  // Only the load before the bench began says something about other work; at the end it is the bench's own.
  const busy = m.loadStart > m.cores / 2;
  return [
    `Portcullis bench, ${report.startedAt} (commit ${m.commit})`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ${m.os}; 1-min load ${m.loadStart.toFixed(2)} at start, ${m.loadEnd?.toFixed(2) ?? '?'} at end`,
    `${o.quick ? 'QUICK mode (smoke test, not figures)' : 'full mode'}: ${o.rounds} interleaved rounds x ${o.durationSec} s, warm-up ${o.warmupSec} s, ` +
      `${o.connections} connections, loopback; load generator ${report.loadTool}${report.loadTool === 'autocannon' ? '' : ' (first-use exchanges: autocannon, a fresh PAT per request)'}`,
    o.from === 'dist'
      ? 'auth and gateways run compiled (node services/*/dist/main.js, built by npm run build first), as the Docker image runs them'
      : 'auth and gateways run from source under tsx (--from=source), as npm start runs them',
    ...(Object.keys(o.gatewayEnv).length > 0
      ? [`gateways started with ${Object.entries(o.gatewayEnv).map(([k, v]) => `${k}=${v}`).join(' ')} (not the defaults)`]
      : []),
    ...(busy ? [`WARNING: other work was running on this machine (1-min load ${m.loadStart.toFixed(2)} on ${m.cores} cores before the bench): absolute figures are noisy; compare the per-round ratios`] : []),
  ];
}

function pad(cells: string[], widths: number[], right: boolean[]): string {
  return cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${pad(r, widths, right)}`);
}

/** The table printed to stdout. */
export function renderText(report: BenchReport): string {
  const out = [...header(report), ''];
  const section = <T>(title: string, outcome: Outcome<T> | undefined, body: (r: T) => string[]) => {
    if (outcome === undefined) return;
    out.push(title);
    const value = ok(outcome);
    // The first lines of the error; the whole of it is in the JSON report and was logged when it happened.
    const error = () => (outcome as { error: string }).error.split('\n').slice(0, 3).map((l) => `  ${l}`);
    out.push(...(value === undefined ? ['  FAILED:', ...error()] : body(value)), '');
  };

  section('1. Gateway throughput and latency (GET /bench/hello, same token everywhere)', report.gateway, (g) => [
    `  each round: ${slicesText(g)}`,
    `  placement: ${describeLayout(g.cpus)}`,
    ...table(
      [
        ['candidate', 'x bare', 'per round', 'req/s', 'p50 ms', 'p99 ms'],
        ...g.candidates.map((c) => [
          c.label,
          c.medianRatio.toFixed(2),
          c.ratios.map((r) => r.toFixed(2)).join(' '),
          num(c.medianRps),
          c.medianP50Ms.toFixed(2),
          c.medianP99Ms.toFixed(2),
        ]),
      ],
      [false, true, false, true, true, true],
    ),
    `  at ${num(g.fixedRate.rate)} req/s offered to both (half the gateway's throughput in each round: ${g.fixedRate.rates.map((r) => num(r)).join(', ')}): ` +
      `bare p50 ${median(g.fixedRate.bare.map((r) => r.p50Ms)).toFixed(2)} / p99 ${median(g.fixedRate.bare.map((r) => r.p99Ms)).toFixed(2)} ms, ` +
      `gateway p50 ${median(g.fixedRate.gateway.map((r) => r.p50Ms)).toFixed(2)} / p99 ${median(g.fixedRate.gateway.map((r) => r.p99Ms)).toFixed(2)} ms; ` +
      `p99 difference per round ${g.fixedRate.p99Excess.map(signedMs).join(', ')}; ` +
      `per pair of slices ${g.fixedRate.sliceP99Excess.map(signedMs).join(' ')}`,
    ...profileOutcomeText(g.profiles, 'the bare proxy and the gateway'),
  ]);
  section(`2. Exchange, POST /auth/v1/token (bcrypt cost ${report.options.bcryptCost}, ${report.options.connections} in flight)`, report.exchange, (e) =>
    table(
      [
        ['what', 'per second', 'x ceiling', 'per round'],
        ['raw bcrypt compare (ceiling), around each first use', num(e.medianCeiling, 1), '1.00', e.ceiling.map((v) => v.toFixed(1)).join(' ')],
        ['first use (a never-exchanged PAT each)', num(e.medianFirstUse, 1), e.medianRatio.toFixed(2), e.firstUse.map((r, i) => `${r.rps.toFixed(1)} (x${e.ratios[i]!.toFixed(2)})`).join(' ')],
        ['repeated (one PAT, cached path)', num(e.medianRepeated), '', e.repeated.map((r) => num(r.rps)).join(' ')],
      ],
      [false, true, true, false],
    ).concat(profileOutcomeText(asRuns(e.profile), 'auth, repeated exchange')),
  );
  section('3. Revocation propagation (revoke call returned -> all three gateways answer 401)', report.revocation, (r) => [
    `  ${r.revocations} revocations (after ${r.warmup} untimed), ${r.gateways} gateways: p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
      `max ${r.maxMs.toFixed(2)} ms, mean ${r.meanMs.toFixed(2)} ms; timed out ${r.timedOut}`,
    `  a probe of all three (200, before the revoke) takes ~${r.probeRttMs.toFixed(2)} ms (p99 ${r.probeRttP99Ms.toFixed(2)} ms); in ${r.firstProbeRefused} of ${r.revocations} the first probe after it was already refused everywhere`,
  ]);
  section('4. Memory (gateway VmRSS)', report.memory, (m) => [
    `  ${num(m.tokens)} distinct verified tokens + ${num(m.revocationEntries)} revocation entries (bench-served JWKS, see report)`,
    `  idle ${mb(m.idleBytes)} MB, warm ${mb(m.warmBytes)} MB, after revocations ${mb(m.afterRevocationsBytes)} MB, ` +
      `after tokens ${mb(m.afterTokensBytes)} MB, ${SETTLE_MS / 1000} s later ${mb(m.settledBytes)} MB, peak ${mb(m.peakBytes)} MB`,
    `  revocation snapshots loaded by the gateway: ${m.revocationSnapshots} (1 is the load at start; more are reloads during the test)${reloadReasons(m)}`,
    `  then one reload of the whole set (a resync message, not part of the target) under a flood of distinct tokens, ${m.reload.tokens} answered 200 meanwhile: ${m.reload.seconds.toFixed(2)} s, RSS after ${mb(m.reload.rssBytes)} MB, peak ${mb(m.reload.peakBytes)} MB`,
    `  (the gateway runs ${m.compiled ? 'compiled, from dist/' : 'under tsx'}: an idle node process is ${mb(m.idleNodeBytes)} MB, ${mb(m.idleNodeTsxBytes)} MB with --import tsx)`,
  ]);

  out.push('Targets');
  out.push(...table(targets(report).map((t) => [t.goal, t.value, verdict(t.pass)]), [false, true, false]));
  return `${out.join('\n')}\n`;
}

/** Areas of the profiled runs side by side, largest first: [area, µs per request of each run]. */
function areaRows(profiles: ProfiledRun[]): [string, number[]][] {
  const names = [...new Set(profiles.flatMap((p) => p.areas.map((a) => a.name)))];
  const rows = names.map((name): [string, number[]] => [name, profiles.map((p) => p.areas.find((a) => a.name === name)?.us ?? 0)]);
  return rows.sort((a, b) => Math.max(...b[1]) - Math.max(...a[1]));
}

const PROFILE_TEXT_AREAS = 12;
const PROFILE_TEXT_FUNCTIONS = 10;

/** Side by side, and with two or more, the last minus the first (the gateway minus the bare proxy). */
function profileText(profiles: ProfiledRun[], what: string): string[] {
  const [first, last] = [profiles[0]!, profiles.at(-1)!];
  const diff = profiles.length > 1;
  const row = (name: string, us: number[]) => [name, ...us.map((v) => v.toFixed(1)), ...(diff ? [(us.at(-1)! - us[0]!).toFixed(1)] : [])];
  return [
    `  profiled (not judged; node --cpu-prof, slower than the timed runs): ${what}, main-thread CPU per request, µs, by area`,
    ...table(
      [
        ['area', ...profiles.map((p) => p.name), ...(diff ? [`${last.name} - ${first.name}`] : [])],
        row('all', profiles.map((p) => p.busyUs)),
        ...areaRows(profiles)
          .slice(0, PROFILE_TEXT_AREAS)
          .map(([name, us]) => row(name, us)),
      ],
      [false, ...profiles.map(() => true), ...(diff ? [true] : [])],
    ),
    `  ${last.label}: largest self times, µs per request`,
    ...table(
      last.functions.slice(0, PROFILE_TEXT_FUNCTIONS).map((f) => [f.name, f.where || f.area, f.us.toFixed(1)]),
      [false, false, true],
    ),
    `  profiles: ${profiles.map((p) => p.file).join(', ')}`,
  ];
}

/** `what`: which processes ran, under what load (a sentence). */
function profileMarkdown(profiles: ProfiledRun[], what: string): string[] {
  const lines = [
    '### Profiled runs (not judged)',
    '',
    `${what} Sampling every ${PROFILE_INTERVAL_US} µs; the profiler slows them, so these req/s are not the timed runs'. Self time of the`,
    'main thread per request served during the timed runs; a native function counts for the area of the JavaScript that called it.',
    "Open the `.cpuprofile` files in Chrome DevTools' Performance panel or in speedscope for flame graphs.",
    '',
    `| | ${profiles.map((p) => p.label).join(' | ')} |`,
    `|---|${profiles.map(() => '---:').join('|')}|`,
    `| req/s under the profiler | ${profiles.map((p) => num(p.rps)).join(' | ')} |`,
    `| main-thread CPU per request, µs | ${profiles.map((p) => p.busyUs.toFixed(1)).join(' | ')} |`,
    ...areaRows(profiles).map(([name, us]) => `| ${name} | ${us.map((v) => v.toFixed(1)).join(' | ')} |`),
    '',
  ];
  for (const p of profiles) {
    lines.push(`${p.label}, largest self times (\`${p.file}\`):`, '', '| function | where | area | µs per request |', '|---|---|---|---:|');
    for (const f of p.functions) lines.push(`| \`${f.name}\` | ${f.where} | ${f.area} | ${f.us.toFixed(2)} |`);
    lines.push('');
  }
  return lines;
}

/** The exchange section profiles one process: as a list of one, for the renderers. */
function asRuns(profile: ProfiledRun | { error: string } | undefined): ProfiledRun[] | { error: string } | undefined {
  return profile === undefined || 'error' in profile ? profile : [profile];
}

/** A section's `--profile` outcome in the text report. */
function profileOutcomeText(profiles: ProfiledRun[] | { error: string } | undefined, what: string): string[] {
  if (profiles === undefined) return [];
  return Array.isArray(profiles) ? profileText(profiles, what) : [`  profiling FAILED: ${profiles.error.split('\n')[0]}`];
}

function profileOutcomeMarkdown(profiles: ProfiledRun[] | { error: string } | undefined, what: string): string[] {
  if (profiles === undefined) return [];
  return Array.isArray(profiles) ? profileMarkdown(profiles, what) : [`Profiling FAILED: ${profiles.error}`, ''];
}

const GATEWAY_PROFILED = 'A fresh bare proxy and gateway under `node --cpu-prof`, after the rounds, loaded in interleaved rounds of their own, as the timed ones.';
const EXCHANGE_PROFILED = 'A second auth (its own Redis and PGlite) under `node --cpu-prof`, after the rounds: the repeated exchange of one PAT, one timed run per round.';

/** The markdown report written next to the JSON. */
export function renderMarkdown(report: BenchReport): string {
  const lines = ['# Portcullis benchmark', '', ...header(report).map((l) => `- ${l}`), ''];
  lines.push('## Targets', '', '| target | this run | |', '|---|---:|---|');
  for (const t of targets(report)) lines.push(`| ${t.goal} | ${t.value} | ${verdict(t.pass)} |`);
  lines.push('');

  const failed = <T>(outcome: Outcome<T> | undefined): string | undefined =>
    outcome !== undefined && ok(outcome) === undefined ? `FAILED: ${(outcome as { error: string }).error}` : undefined;

  const g = ok(report.gateway);
  if (report.gateway) {
    lines.push('## 1. Gateway throughput and latency', '');
    if (g) {
      lines.push(`\`GET ${g.path}\`, ${g.connections} connections, load generator ${report.loadTool}. Ratios are per round to the bare proxy of the same round; the table shows medians. In each round, ${slicesText(g)}. Placement: ${describeLayout(g.cpus)}.`, '');
      lines.push('| candidate | × bare proxy | per round | req/s | p50 ms | p99 ms | p99 − bare p99 |', '|---|---:|---|---:|---:|---:|---:|');
      for (const c of g.candidates) {
        lines.push(
          `| ${c.label} | ${c.medianRatio.toFixed(2)} | ${c.ratios.map((r) => r.toFixed(2)).join(' ')} | ${num(c.medianRps)} | ${c.medianP50Ms.toFixed(2)} | ${c.medianP99Ms.toFixed(2)} | ${c.medianP99ExcessMs.toFixed(2)} |`,
        );
      }
      const f = g.fixedRate;
      lines.push(
        '',
        `Latency at the same offered load, ${num(f.rate)} req/s (median; in each round half the gateway's throughput in that round, on that round's warm processes: ${f.rates.map((r) => num(r)).join(', ')}; ${report.loadTool}, ${g.connections} connections, paced). ` +
          "In the saturated rounds above, latency is connections ÷ throughput and restates the req/s ratio; here it is what the gateway adds to a request.",
        '',
        '| round | bare p50 ms | bare p99 ms | gateway p50 ms | gateway p99 ms | p99 − bare p99 |',
        '|---|---:|---:|---:|---:|---:|',
        ...f.bare.map((b, i) => {
          const gw = f.gateway[i]!;
          return `| ${i + 1} | ${b.p50Ms.toFixed(2)} | ${b.p99Ms.toFixed(2)} | ${gw.p50Ms.toFixed(2)} | ${gw.p99Ms.toFixed(2)} | ${signedMs(f.p99Excess[i]!)} |`;
        }),
        '',
        `The target judges the median, ${signedMs(f.medianSliceP99ExcessMs)}, of the p99 differences of each pass's two slices (timed one after the other), over every round: ${f.sliceP99Excess.map(signedMs).join(' ')}.`,
      );
      lines.push('', 'Checked before timing:', '', ...g.checks.map((c) => `- ${c}`), '');
      lines.push(...profileOutcomeMarkdown(g.profiles, GATEWAY_PROFILED));
    } else lines.push(failed(report.gateway)!, '');
  }

  const e = ok(report.exchange);
  if (report.exchange) {
    lines.push('## 2. Exchange', '');
    if (e) {
      lines.push(`bcrypt cost ${e.bcryptCost}, ${e.connections} in flight; ${e.patsCreated} PATs created through the API beforehand.`, '');
      lines.push('| what | per second (median) | × ceiling | per round |', '|---|---:|---:|---|');
      lines.push(`| raw bcrypt compare (ceiling), before the first round and after each first use | ${num(e.medianCeiling, 1)} | 1.00 | ${e.ceiling.map((v) => v.toFixed(1)).join(' ')} |`);
      lines.push(
        `| first use (a never-exchanged PAT each), × the mean of the ceilings either side | ${num(e.medianFirstUse, 1)} | ${e.medianRatio.toFixed(2)} | ${e.firstUse.map((r, i) => `${r.rps.toFixed(1)} (×${e.ratios[i]!.toFixed(2)})`).join(' ')} |`,
      );
      lines.push(`| repeated (one PAT, cached path) | ${num(e.medianRepeated)} | | ${e.repeated.map((r) => num(r.rps)).join(' ')} |`, '');
      lines.push(...profileOutcomeMarkdown(asRuns(e.profile), EXCHANGE_PROFILED));
    } else lines.push(failed(report.exchange)!, '');
  }

  const r = ok(report.revocation);
  if (report.revocation) {
    lines.push('## 3. Revocation propagation', '');
    if (r) {
      lines.push(
        `${r.revocations} revocations, after ${r.warmup} made the same way and not timed (warm-up), ${r.gateways} gateways; each sample is the time from the revoke call returning to the last gateway's first 401.`,
        '',
        '| p50 | p99 | max | mean | timed out | one probe of all three, before the revoke (median, p99) | first probe already refused everywhere |',
        '|---:|---:|---:|---:|---:|---:|---:|',
        `| ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ${r.maxMs.toFixed(2)} ms | ${r.meanMs.toFixed(2)} ms | ${r.timedOut} | ${r.probeRttMs.toFixed(2)} ms, ${r.probeRttP99Ms.toFixed(2)} ms | ${r.firstProbeRefused} of ${r.revocations} |`,
        '',
      );
    } else lines.push(failed(report.revocation)!, '');
  }

  const m = ok(report.memory);
  if (report.memory) {
    lines.push('## 4. Memory', '');
    if (m) {
      lines.push(
        `${num(m.tokens)} distinct verified tokens (${m.tokenSeconds.toFixed(1)} s) and ${num(m.revocationEntries)} revocation entries.`,
        '',
        `| idle | warm | after revocations | after tokens | ${SETTLE_MS / 1000} s later | peak (VmHWM) |`,
        '|---:|---:|---:|---:|---:|---:|',
        `| ${mb(m.idleBytes)} MB | ${mb(m.warmBytes)} MB | ${mb(m.afterRevocationsBytes)} MB | ${mb(m.afterTokensBytes)} MB | ${mb(m.settledBytes)} MB | ${mb(m.peakBytes)} MB |`,
        '',
        `Revocation snapshots loaded by the gateway: ${m.revocationSnapshots} (1 is the load at start; more are reloads during the test, each reading every entry again)${reloadReasons(m)}.`,
        '',
        `Then one reload of the whole set, asked for by a resync message as auth's rebuild does, while distinct tokens keep the gateway busy (${m.reload.tokens} answered 200 meanwhile; a reload slower than the staleness bound would have made it answer 503; not part of the target): ${m.reload.seconds.toFixed(2)} s; RSS after it ${mb(m.reload.rssBytes)} MB, peak (VmHWM) ${mb(m.reload.peakBytes)} MB.`,
        '',
        `An idle \`node -e\` process: ${mb(m.idleNodeBytes)} MB; the same with \`--import tsx\`: ${mb(m.idleNodeTsxBytes)} MB.`,
        '',
        `Method: ${m.method}`,
        '',
      );
    } else lines.push(failed(report.memory)!, '');
  }
  return lines.join('\n');
}
