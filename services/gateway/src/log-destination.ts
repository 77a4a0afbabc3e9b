import { type DestinationStream, destination } from 'pino';

/** Where the gathered lines go: pino's own synchronous stdout destination (sonic-boom), in production. */
export interface LineTarget {
  write(chunk: string): unknown;
}

export interface BatchOptions {
  /** The longest a line waits before it is written. */
  intervalMs: number;
  /** Characters gathered before a write happens at once (lines are ASCII-escaped JSON, so about bytes). */
  maxChars: number;
}

/**
 * A line waits 50 ms at most. At the bench's 10,000 lines a second (about 3 MB/s), the 64 KiB bound comes
 * first: about 45 writes a second.
 */
export const DEFAULT_BATCH: BatchOptions = { intervalMs: 50, maxChars: 64 * 1024 };

/**
 * A pino destination that gathers lines and writes them in one system call every `intervalMs`, or as soon
 * as `maxChars` have gathered, and on process exit.
 *
 * Why: pino's asynchronous stdout destination (sonic-boom) hands every few lines to libuv's thread pool,
 * and measures its whole pending string again on every line. With one access line per request, that cost
 * the gateway 3-13 µs of CPU a request on the 2-core bench machine, off the main thread but on the same two
 * cores. Here a line costs an array push, and the write is synchronous, as `pino.destination()`'s is by
 * default, but a few dozen times a second. In interleaved A/B runs this alone gave the gateway 3-5%
 * more requests a second (docs/benchmarks.md, "A sixth look").
 *
 * The price: a line reaches stdout up to `intervalMs` late, and the last `intervalMs` of lines are lost if
 * the process is killed with SIGKILL or dies without reaching its `exit` event (an uncaught exception and
 * `process.exit` both reach it).
 */
export class BatchingDestination implements DestinationStream {
  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onExit = (): void => this.flush();

  constructor(
    private readonly target: LineTarget,
    private readonly options: BatchOptions = DEFAULT_BATCH,
  ) {
    process.on('exit', this.onExit);
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= this.options.maxChars) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.options.intervalMs).unref();
    return true;
  }

  /** Writes what has gathered now (pino's `logger.flush()` calls this). */
  flush(callback?: (error?: Error) => void): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length > 0) {
      const chunk = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
      this.lines = [];
      this.chars = 0;
      this.target.write(chunk);
    }
    callback?.();
  }

  /** Writes what has gathered and stops listening for the process's exit. */
  close(): void {
    this.flush();
    process.off('exit', this.onExit);
  }
}

/** The gateway's stdout: lines batched as above over pino's synchronous sonic-boom destination. */
export function batchedStdout(options: BatchOptions = DEFAULT_BATCH): BatchingDestination {
  return new BatchingDestination(destination({ dest: 1, sync: true }), options);
}
