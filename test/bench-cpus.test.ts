import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { allowedCpus, describeLayout, layoutFor, onCpus, parseCpuList, pinProcess } from '../bench/cpus.js';

describe('parseCpuList', () => {
  it('reads single CPUs and ranges, as /proc and taskset write them', () => {
    expect(parseCpuList('0')).toEqual([0]);
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0-2,5,7-8\n')).toEqual([0, 1, 2, 5, 7, 8]);
  });

  it('refuses anything else', () => {
    expect(() => parseCpuList('')).toThrow(/not a CPU list/);
    expect(() => parseCpuList('0,a')).toThrow(/not a CPU list/);
  });
});

describe('layoutFor', () => {
  it('gives candidates the first CPU and the harness the rest', () => {
    expect(layoutFor([0, 1])).toEqual({ candidate: '0', harness: '1', all: '0,1' });
    expect(layoutFor([2, 3, 5])).toEqual({ candidate: '2', harness: '3,5', all: '2,3,5' });
  });

  it('places nothing on a single CPU', () => {
    expect(layoutFor([0])).toBeUndefined();
  });
});

describe('describeLayout', () => {
  it('names each CPU the report and the log give, or says nothing was placed', () => {
    expect(describeLayout({ candidate: '0', harness: '1', all: '0,1' })).toBe(
      'each candidate alone on CPU 0; the load generator, upstream, auth, Redis and the bench on CPU 1; the two-worker gateway on CPUs 0,1',
    );
    expect(describeLayout(undefined)).toMatch(/^not pinned/);
  });
});

describe('onCpus', () => {
  it('starts the program under taskset only when given CPUs', () => {
    expect(onCpus(undefined, 'node', ['a.js'])).toEqual(['node', ['a.js']]);
    expect(onCpus('1', 'node', ['a.js'])).toEqual(['/usr/bin/taskset', ['-c', '1', 'node', 'a.js']]);
  });
});

const mine = allowedCpus(process.pid);

describe.runIf(existsSync('/usr/bin/taskset') && mine.length >= 2)('placing real processes', () => {
  it('starts a process on the CPUs given, then moves it', async () => {
    const [first, second] = [mine[0]!, mine[1]!];
    const [file, args] = onCpus(String(second), process.execPath, ['-e', 'setTimeout(() => {}, 30_000)']);
    const child = spawn(file, args, { stdio: 'ignore' });
    try {
      // taskset execs node in the same process: its placement is set before node's first instruction.
      await expect.poll(() => allowedCpus(child.pid!)).toEqual([second]);
      pinProcess(child.pid!, String(first));
      expect(allowedCpus(child.pid!)).toEqual([first]);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
