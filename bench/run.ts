import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './children.js';
import { Cleanup } from './cleanup.js';
import { pickLoadTool, wrkVersion } from './load.js';
import { finishMachineInfo, machineInfo } from './machine.js';
import { type Section, readOptions } from './options.js';
import { type BenchReport, type Outcome, renderMarkdown, renderText } from './report.js';
import { benchExchange } from './sections/exchange.js';
import { benchGateway } from './sections/gateway.js';
import { benchMemory } from './sections/memory.js';
import { benchRevocation } from './sections/revocation.js';
import { startStack } from './stack.js';

/**
 * `npm run bench`: starts everything it measures on free loopback ports (Redis, auth, gateways, the
 * baselines, an upstream; each in its own process), runs the four sections of issue 6, prints a table and
 * writes bench/results/<time>.{md,json} (and latest.*). Every child and temp folder is removed on the way
 * out, whether the run finished, failed or was interrupted.
 */
const options = readOptions(process.argv.slice(2), process.env);
const cleanup = new Cleanup();
const log = (line: string) => process.stderr.write(`${line}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping every child process and removing temp folders`);
    void cleanup.run().finally(() => process.exit(130));
  });
}

const tool = pickLoadTool(options.loadgen);
const startedAt = new Date().toISOString();
const dir = resolve(ROOT, options.resultsDir);
const base = join(dir, `bench-${startedAt.replace(/[:.]/g, '-')}${options.quick ? '-quick' : ''}`);
const report: BenchReport = {
  startedAt,
  finishedAt: '',
  options,
  machine: machineInfo(),
  loadTool: tool === 'wrk' ? `wrk ${wrkVersion() ?? ''} (1 thread)`.replace('  ', ' ') : 'autocannon',
};
log(`bench: ${options.quick ? 'quick' : 'full'} mode, sections ${options.sections.join(', ')}, load generator ${report.loadTool}`);

async function section<T>(name: Section, run: () => Promise<T>): Promise<Outcome<T> | undefined> {
  if (!options.sections.includes(name)) return undefined;
  log(`\n== ${name}`);
  const started = performance.now();
  try {
    const result = await run();
    log(`== ${name} done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return result;
  } catch (error) {
    // One section failing still leaves the others' figures worth reporting; the exit code says it failed.
    log(`== ${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

try {
  log('starting redis-server, auth (PGlite in a temp folder) and the upstream');
  if (options.from === 'dist') {
    log('building dist/ (npm run build): auth and the gateways run compiled, as in the Docker image');
    execFileSync(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: ROOT, stdio: 'inherit' });
  }
  const stack = await startStack(cleanup, { bcryptCost: options.bcryptCost, gatewayEnv: options.gatewayEnv, compiled: options.from === 'dist' });
  report.gateway = await section('gateway', () => benchGateway(stack, options, tool, log, `${base}-profiles`));
  report.exchange = await section('exchange', () => benchExchange(stack, options, tool, log, `${base}-profiles`));
  report.revocation = await section('revocation', () => benchRevocation(stack, options, log));
  report.memory = await section('memory', () => benchMemory(stack, options, log));
} finally {
  await cleanup.run();
}

report.finishedAt = new Date().toISOString();
finishMachineInfo(report.machine);
const text = renderText(report);
process.stdout.write(`\n${text}`);

mkdirSync(dir, { recursive: true });
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.md`, renderMarkdown(report));
copyFileSync(`${base}.json`, join(dir, 'latest.json'));
copyFileSync(`${base}.md`, join(dir, 'latest.md'));
log(`\nreport: ${base}.md and .json (also ${join(options.resultsDir, 'latest.md')})`);
