import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../bench/load.js';
import { histogramOf } from '../bench/load.js';
import { SLICE_SEC, histogramPercentileMs, mergeHistograms, mergeSlices, pairedP99Differences, slicePasses } from '../bench/slices.js';

function run(requests: number, seconds: number, p50Ms: number, p99Ms: number, maxMs: number, failures = 0): LoadResult {
  return { requests, seconds, rps: requests / seconds, p50Ms, p99Ms, maxMs, failures };
}

describe('slicePasses', () => {
  it('goes back and forth over the candidates, one pass per slice of the duration', () => {
    expect(SLICE_SEC).toBe(1);
    expect(slicePasses(['a', 'b', 'c'], 5)).toEqual([
      ['a', 'b', 'c'],
      ['c', 'b', 'a'],
      ['a', 'b', 'c'],
      ['c', 'b', 'a'],
      ['a', 'b', 'c'],
    ]);
  });

  it('makes one pass of a duration shorter than a slice, and leaves its input alone', () => {
    const candidates = ['a', 'b'];
    expect(slicePasses(candidates, 0)).toEqual([['a', 'b']]);
    slicePasses(candidates, 4);
    expect(candidates).toEqual(['a', 'b']);
  });
});

describe('mergeSlices', () => {
  it('sums requests and time, so req/s is total over total, not a mean of rates', () => {
    // 1,000 req in 1 s and 3,000 in 1 s: 2,000 req/s; a slow 0.5 s slice weighs half as much.
    const merged = mergeSlices([run(1_000, 1, 2, 9, 30), run(3_000, 1, 1, 5, 12), run(500, 0.5, 3, 20, 41, 2)]);
    expect(merged.requests).toBe(4_500);
    expect(merged.seconds).toBe(2.5);
    expect(merged.rps).toBe(1_800);
    expect(merged.p50Ms).toBe(2);
    expect(merged.p99Ms).toBe(9);
    expect(merged.maxMs).toBe(41);
    expect(merged.failures).toBe(2);
  });

  it('keeps a single slice as it is', () => {
    const only = run(7_000, 1.002, 4.1, 17.5, 60);
    expect(mergeSlices([only])).toEqual(only);
  });
});

describe('latency distributions', () => {
  it('takes nearest-rank percentiles of [µs, count] pairs, in ms', () => {
    // 100 latencies: 90 at 1 ms, 9 at 2 ms, 1 at 50 ms.
    const histogram: [number, number][] = [[1_000, 90], [2_000, 9], [50_000, 1]];
    expect(histogramPercentileMs(histogram, 50)).toBe(1);
    expect(histogramPercentileMs(histogram, 90)).toBe(1);
    expect(histogramPercentileMs(histogram, 91)).toBe(2);
    expect(histogramPercentileMs(histogram, 99)).toBe(2);
    expect(histogramPercentileMs(histogram, 100)).toBe(50);
    expect(histogramPercentileMs([], 99)).toBeNaN();
  });

  it('merges distributions by value', () => {
    expect(mergeHistograms([[[5, 1], [9, 2]], [[1, 4], [9, 1]], []])).toEqual([[1, 4], [5, 1], [9, 3]]);
  });

  it('builds the distribution of sorted ms latencies in whole µs', () => {
    expect(histogramOf([0.1, 0.1004, 0.25, 3])).toEqual([[100, 2], [250, 1], [3_000, 1]]);
  });

  it("gives merged slices the percentiles of all their latencies, not the median of the slices'", () => {
    // Two quiet slices and one with a stall: p99 over all 300 answers is the stall's, which the median
    // of the three slices' own p99 (2 ms) would hide.
    const quiet = (): LoadResult => ({ ...run(100, 1, 1, 2, 2), histogramUs: [[1_000, 98], [2_000, 2]] });
    const stalled: LoadResult = { ...run(100, 1, 1, 80, 80), histogramUs: [[1_000, 95], [80_000, 5]] };
    const merged = mergeSlices([quiet(), stalled, quiet()]);
    expect(merged.p50Ms).toBe(1);
    expect(merged.p99Ms).toBe(80);
    expect(merged.histogramUs).toBeUndefined();
  });
});

describe('pairedP99Differences', () => {
  it('subtracts the base p99 from the other in each pass, in pass order', () => {
    const base = [run(100, 1, 0.4, 3.0, 9), run(100, 1, 0.4, 20.0, 30), run(100, 1, 0.4, 2.5, 8)];
    const other = [run(100, 1, 0.5, 3.5, 9), run(100, 1, 0.5, 4.0, 10), run(100, 1, 0.5, 2.0, 7)];
    const differences = pairedP99Differences(base, other);
    expect(differences.map((d) => Number(d.toFixed(2)))).toEqual([0.5, -16, -0.5]);
  });

  it('refuses slices that do not pair up', () => {
    expect(() => pairedP99Differences([run(1, 1, 1, 1, 1)], [])).toThrow(/cannot pair 1 slices with 0/);
  });
});
