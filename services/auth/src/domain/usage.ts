import type { Store } from '../storage/store.js';
import type { Logger } from './revoker.js';

/**
 * last_used_at / last_used_ip without a database write per exchange: uses are kept in memory
 * (the newest per token) and written in one statement per flush.
 */
export class UsageRecorder {
  private pending = new Map<string, { tokenId: string; at: Date; ip: string | null }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  record(tokenId: string, at: Date, ip: string | null): void {
    this.pending.set(tokenId, { tokenId, at, ip });
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.store.recordUsage(batch);
    } catch (error) {
      this.log.warn({ err: error, tokens: batch.length }, 'could not record token usage');
    }
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
