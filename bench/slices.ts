import type { LoadResult } from './load.js';
import { median } from './stats.js';

/**
 * A round's timed load is cut into slices of this length, one per candidate per pass, and the passes go
 * back and forth (A B C, C B A, A B C...), `durationSec` passes in all. This host's speed moves by tens of
 * percent within seconds (the bare proxy alone read 5,682 then 10,768 req/s in consecutive 2 s runs):
 * one run of `durationSec` per candidate would compare the gateway with a bare proxy timed some 20 s
 * earlier, in another of the host's moods. Slices put every candidate's load in the same stretch of time, and
 * the back-and-forth order gives none of them the early or the late end of it.
 */
export const SLICE_SEC = 1;

/** The orders of one round's passes: `durationSec` of them (at least one), every other one reversed. */
export function slicePasses<T>(candidates: readonly T[], durationSec: number): T[][] {
  const passes = Math.max(1, Math.round(durationSec / SLICE_SEC));
  return Array.from({ length: passes }, (_, i) => (i % 2 === 0 ? [...candidates] : [...candidates].reverse()));
}

/** Nearest-rank percentile of a latency distribution ([microseconds, count] pairs, ascending), in ms. */
export function histogramPercentileMs(histogram: readonly (readonly [number, number])[], p: number): number {
  const total = histogram.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [us, count] of histogram) {
    seen += count;
    if (seen >= rank) return us / 1000;
  }
  return histogram.at(-1)![0] / 1000;
}

/** Several distributions as one, ascending. */
export function mergeHistograms(histograms: readonly (readonly (readonly [number, number])[])[]): [number, number][] {
  const counts = new Map<number, number>();
  for (const histogram of histograms) for (const [us, count] of histogram) counts.set(us, (counts.get(us) ?? 0) + count);
  return [...counts].sort((a, b) => a[0] - b[0]);
}

/**
 * A candidate's slices of one round as one run: requests and seconds summed (so req/s is the slices' total
 * over their total time), failures summed, the worst latency kept. p50 and p99 are those of all the slices'
 * latencies together when every slice brought its distribution (`histogram` in the run), else the median of
 * the slices' own. The result keeps no distribution.
 */
export function mergeSlices(slices: readonly LoadResult[]): LoadResult {
  const requests = slices.reduce((sum, r) => sum + r.requests, 0);
  const seconds = slices.reduce((sum, r) => sum + r.seconds, 0);
  const histograms = slices.map((r) => r.histogramUs);
  const all = histograms.every((h) => h !== undefined) ? mergeHistograms(histograms) : undefined;
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50Ms: all ? histogramPercentileMs(all, 50) : median(slices.map((r) => r.p50Ms)),
    p99Ms: all ? histogramPercentileMs(all, 99) : median(slices.map((r) => r.p99Ms)),
    maxMs: Math.max(...slices.map((r) => r.maxMs)),
    failures: slices.reduce((sum, r) => sum + r.failures, 0),
  };
}

/**
 * Per pass, `other`'s slice p99 minus `base`'s slice p99 (ms): the two slices of a pass were timed one after
 * the other, so each difference compares the candidates in the same stretch of the host's time. The p99
 * target judges their median.
 */
export function pairedP99Differences(base: readonly LoadResult[], other: readonly LoadResult[]): number[] {
  if (base.length !== other.length) throw new Error(`cannot pair ${base.length} slices with ${other.length}`);
  return base.map((b, pass) => other[pass]!.p99Ms - b.p99Ms);
}
