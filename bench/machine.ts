import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { ROOT } from './children.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1-minute load average when the bench started and ended: other work on the machine shows here. */
  loadStart: number;
  loadEnd?: number;
  commit: string;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()} ${process.arch}`,
    loadStart: loadavg()[0]!,
    commit: git(['describe', '--always', '--dirty']),
  };
}

export function finishMachineInfo(info: MachineInfo): void {
  info.loadEnd = loadavg()[0]!;
}
