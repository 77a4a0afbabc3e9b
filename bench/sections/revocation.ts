import type { Agent } from 'node:http';
import type { ServiceProcess } from '../../test/support/processes.js';
import { call, keepAlive, mapLimit } from '../http.js';
import type { BenchOptions } from '../options.js';
import { type Stack, TIMED_PATH, stopService } from '../stack.js';
import { mean, median, percentile } from '../stats.js';

export interface RevocationResult {
  gateways: number;
  revocations: number;
  /** Revocations made the same way before the timed ones and not counted: they warm up the revoke and 401 paths. */
  warmup: number;
  /** Per revocation: ms from the revoke call returning to the last of the gateways answering 401. */
  samplesMs: number[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Revocations some gateway still served after POLL_TIMEOUT_MS (counted in the samples at that value). */
  timedOut: number;
  /**
   * Median time for one probe of all three gateways at once (token cached, slowest of the three) just before the
   * revoke: a sample cannot be shorter, since the first 401 has to travel back too.
   */
  probeRttMs: number;
  /**
   * The same probe's p99: the tail a sample gets from the round trip alone, with nothing revoked. On a busy
   * two-core host most of the revocation p99 is this (six processes share the two cores).
   */
  probeRttP99Ms: number;
  /** Revocations for which every gateway's first probe after the revoke call already answered 401. */
  firstProbeRefused: number;
}

const GATEWAYS = 3;
const POLL_TIMEOUT_MS = 5_000;
const PREPARE_CONCURRENCY = 4;
/**
 * Untimed revocations first, as every section warms up before it measures: fresh gateways answer their
 * first 401s, and auth its first revokes, with code not compiled yet (here the first samples of cold runs
 * took 10-28 ms, most later ones 2-4 ms).
 */
const WARMUP_REVOCATIONS = 20;

/**
 * Section 3: auth, Redis and three gateway processes. For each revocation a PAT and a session from it are
 * made, the session is seen to pass at all three gateways, the PAT is disabled on auth, and from the moment
 * that call returns all three gateways are polled at once, back to back, until each answers 401.
 */
export async function benchRevocation(stack: Stack, options: BenchOptions, log: (line: string) => void): Promise<RevocationResult> {
  const gateways: ServiceProcess[] = [];
  for (let i = 0; i < GATEWAYS; i++) gateways.push(await stack.startGateway());
  const agents = gateways.map(() => keepAlive());
  try {
    const started = performance.now();
    const warmup = Math.min(WARMUP_REVOCATIONS, options.revocations);
    const prepared = await mapLimit(Array.from({ length: warmup + options.revocations }), PREPARE_CONCURRENCY, async () => {
      const pat = await stack.createPat();
      return { pat, session: await stack.exchange(pat.key) };
    });
    log(`  ${prepared.length} PATs and sessions made (${warmup} for the warm-up) in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const samples: number[] = [];
    const rtts: number[] = [];
    let timedOut = 0;
    let firstProbeRefused = 0;
    for (const [position, { pat, session }] of prepared.entries()) {
      const index = position - warmup;
      const headers = { Authorization: `Bearer ${session}` };
      // Twice: the first request lets each gateway verify and cache the new token; the second is timed, as
      // the polls below will run (cached token, warm connection, all three at once).
      for (const timed of [false, true]) {
        const t = performance.now();
        const answers = await Promise.all(
          gateways.map(async (g, i) => {
            const { status } = await call(agents[i]!, `${g.url}${TIMED_PATH}`, { headers });
            return { status, ms: performance.now() - t };
          }),
        );
        if (answers.some((a) => a.status !== 200)) {
          throw new Error(`revocation ${position}: the session answered ${answers.map((a) => a.status).join(', ')} before the revoke`);
        }
        if (timed && index >= 0) rtts.push(Math.max(...answers.map((a) => a.ms)));
      }

      await stack.disable(pat.id);
      const revokedAt = performance.now();
      const seen = await Promise.all(gateways.map((g, i) => pollUntil401(agents[i]!, `${g.url}${TIMED_PATH}`, headers, revokedAt)));
      const worst = Math.max(...seen.map((s) => s.elapsedMs));
      if (index < 0) continue;
      if (seen.every((s) => s.probes === 1)) firstProbeRefused++;
      if (worst >= POLL_TIMEOUT_MS) timedOut++;
      samples.push(worst);
      if ((index + 1) % 50 === 0) log(`  ${index + 1}/${options.revocations} revocations, median so far ${median(samples).toFixed(2)} ms`);
    }

    const sorted = [...samples].sort((a, b) => a - b);
    return {
      gateways: GATEWAYS,
      revocations: samples.length,
      warmup,
      samplesMs: samples,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1)!,
      meanMs: mean(samples),
      timedOut,
      probeRttMs: median(rtts),
      probeRttP99Ms: percentile([...rtts].sort((a, b) => a - b), 99),
      firstProbeRefused,
    };
  } finally {
    for (const agent of agents) agent.destroy();
    // The gateways stop with the stack's cleanup; stopping them now frees the CPU for what follows.
    await Promise.all(gateways.map(stopService));
  }
}

/** Milliseconds from `since` to this gateway's first 401 for the request (capped at POLL_TIMEOUT_MS), and the probes it took. */
async function pollUntil401(agent: Agent, url: string, headers: Record<string, string>, since: number): Promise<{ elapsedMs: number; probes: number }> {
  for (let probes = 1; ; probes++) {
    const { status, body } = await call(agent, url, { headers });
    const elapsedMs = performance.now() - since;
    if (status === 401) return { elapsedMs, probes };
    if (status !== 200) throw new Error(`${url} answered ${status} while polling for the revocation: ${body}`);
    if (elapsedMs >= POLL_TIMEOUT_MS) return { elapsedMs: POLL_TIMEOUT_MS, probes };
  }
}
