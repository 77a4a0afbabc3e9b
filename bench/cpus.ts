import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/**
 * Where the gateway section's processes run. Each candidate gets a CPU to itself; the load generator, the
 * upstream, auth, Redis and the bench process share the others. A candidate is then timed on its own work
 * alone, on a core nothing else uses, as a benchmark isolates the system under test from its load
 * generator; left to the scheduler, the candidate, wrk and the upstream moved between the two cores and
 * woke each other across them, and two processes of one build differed by 10-30% (docs/benchmarks.md,
 * "What runs where"). Every candidate is placed the same way, and the two-worker gateway, whose point is
 * using more than one core, gets every CPU.
 */
export interface CpuLayout {
  /** The CPU a candidate runs on, alone. */
  candidate: string;
  /** Every other CPU: the load generator, the upstream, auth, Redis and the bench itself. */
  harness: string;
  /** Every CPU this process may use: for the two-worker gateway, and the placement restored afterwards. */
  all: string;
}

const TASKSET = '/usr/bin/taskset';

/** `0-2,5` as [0, 1, 2, 5]. */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) throw new Error(`not a CPU list: ${list}`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs `pid` may run on (`Cpus_allowed_list` in /proc/<pid>/status). */
export function allowedCpus(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  if (!line) throw new Error(`no Cpus_allowed_list for process ${pid}`);
  return parseCpuList(line[1]!);
}

/**
 * The layout for `cpus` (the CPUs the bench may use): the first for candidates, the rest for the harness.
 * Undefined with fewer than two.
 */
export function layoutFor(cpus: readonly number[]): CpuLayout | undefined {
  if (cpus.length < 2) return undefined;
  return { candidate: String(cpus[0]), harness: cpus.slice(1).join(','), all: cpus.join(',') };
}

/** The layout of this machine, or undefined when not wanted, without taskset, or with one CPU. */
export function cpuLayout(wanted: boolean): CpuLayout | undefined {
  if (!wanted || !existsSync(TASKSET)) return undefined;
  return layoutFor(allowedCpus(process.pid));
}

/** Moves every thread of a running process to `cpus`; threads it starts later inherit the placement. */
export function pinProcess(pid: number, cpus: string): void {
  execFileSync(TASKSET, ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** A command line that starts `file` on `cpus` from its first instruction (its children inherit it). */
export function onCpus(cpus: string | undefined, file: string, args: readonly string[]): [string, string[]] {
  return cpus === undefined ? [file, [...args]] : [TASKSET, ['-c', cpus, file, ...args]];
}

/** The placement in words, for the log and the report. */
export function describeLayout(layout: CpuLayout | undefined): string {
  return layout === undefined
    ? 'not pinned: every process on every CPU, as the scheduler puts it'
    : `each candidate alone on CPU ${layout.candidate}; the load generator, upstream, auth, Redis and the bench on CPU ${layout.harness}; the two-worker gateway on CPUs ${layout.all}`;
}
