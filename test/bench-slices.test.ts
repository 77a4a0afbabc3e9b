import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../bench/load.js';
import { SLICE_SEC, mergeSlices, slicePasses } from '../bench/slices.js';

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
