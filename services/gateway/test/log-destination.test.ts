import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchingDestination } from '../src/log-destination.js';

const LOGGER = fileURLToPath(new URL('../src/logger.ts', import.meta.url));

/** A target that records each write it gets: one entry per system call the real one would make. */
function recorder(): { writes: string[]; write(chunk: string): void } {
  const writes: string[] = [];
  return { writes, write: (chunk) => void writes.push(chunk) };
}

describe('BatchingDestination', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gathers lines and writes them at once when maxChars have gathered', () => {
    const target = recorder();
    const destination = new BatchingDestination(target, { intervalMs: 60_000, maxChars: 10 });
    destination.write('aaaa\n');
    expect(target.writes).toEqual([]);
    destination.write('bbbbb\n');
    expect(target.writes).toEqual(['aaaa\nbbbbb\n']);
    destination.write('c\n');
    expect(target.writes).toEqual(['aaaa\nbbbbb\n']);
    destination.close();
    expect(target.writes).toEqual(['aaaa\nbbbbb\n', 'c\n']);
  });

  it('writes what has gathered intervalMs after the first line, not before', () => {
    vi.useFakeTimers();
    const target = recorder();
    const destination = new BatchingDestination(target, { intervalMs: 50, maxChars: 1 << 20 });
    destination.write('one\n');
    vi.advanceTimersByTime(30);
    destination.write('two\n');
    vi.advanceTimersByTime(19);
    expect(target.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(target.writes).toEqual(['one\ntwo\n']);
    // Nothing gathered, nothing written; the next line starts a new wait.
    vi.advanceTimersByTime(500);
    destination.write('three\n');
    vi.advanceTimersByTime(50);
    expect(target.writes).toEqual(['one\ntwo\n', 'three\n']);
    destination.close();
  });

  it('flush() writes at once and calls back; with nothing gathered it writes nothing', () => {
    const target = recorder();
    const destination = new BatchingDestination(target, { intervalMs: 60_000, maxChars: 1 << 20 });
    const done = vi.fn();
    destination.flush(done);
    expect(target.writes).toEqual([]);
    destination.write('x\n');
    destination.flush(done);
    expect(target.writes).toEqual(['x\n']);
    expect(done).toHaveBeenCalledTimes(2);
    destination.close();
  });

  it('close() stops listening for the process exit', () => {
    const before = process.listenerCount('exit');
    const destination = new BatchingDestination(recorder());
    expect(process.listenerCount('exit')).toBe(before + 1);
    destination.close();
    expect(process.listenerCount('exit')).toBe(before);
  });
});

/** Runs `code` in a Node process that has `createGatewayLogger` (stdout batched, as in production). */
function gatewayLoggerProcess(code: string) {
  const script = `import { createGatewayLogger } from ${JSON.stringify(LOGGER)};\nconst logger = createGatewayLogger({ level: 'info', patHeader: 'token' });\n${code}`;
  return spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
}

function lines(text: string): { msg: string; n?: number }[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { msg: string; n?: number });
}

describe("the gateway logger's stdout", () => {
  it('writes every line when the process exits right after logging them', async () => {
    const child = gatewayLoggerProcess(`for (let n = 0; n < 1000; n++) logger.info({ n }, 'line');\nprocess.exit(0);`);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    const got = lines(out);
    expect(got).toHaveLength(1000);
    expect(got.map((line) => line.n)).toEqual([...Array(1000).keys()]);
  });

  it('writes a line while the process keeps running, without waiting for more', async () => {
    // The process stays up until its stdin closes: the line can only come from the timed flush.
    const child = gatewayLoggerProcess(`logger.info('alone');\nprocess.stdin.resume();\nprocess.stdin.on('end', () => process.exit(0));`);
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    expect(lines(first).map((line) => line.msg)).toEqual(['alone']);
    expect(child.exitCode).toBeNull();
    child.stdin.end();
    await new Promise((resolve) => child.on('exit', resolve));
  });
});
