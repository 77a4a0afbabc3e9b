import type { Logger } from 'pino';

/**
 * Why the gateway answered a 503 itself (a stale revocation set, a key set not loaded, a PAT exchange that
 * failed). The client only sees the generic text, so the log says which: one warning per reason at most
 * every `everyMs`, counting the requests refused for it in between. A Redis outage at 10,000 requests a
 * second writes one line a second, not 10,000.
 */
export class RefusalLog {
  private readonly last = new Map<string, { loggedAt: number; refusedSince: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly everyMs = 1_000,
  ) {}

  refused(reason: string, requestId: string): void {
    const at = this.now();
    const last = this.last.get(reason);
    if (last !== undefined && at - last.loggedAt < this.everyMs) {
      last.refusedSince += 1;
      return;
    }
    // `alsoRefused`: the requests refused for this reason since the previous line, which were not logged.
    this.logger.warn({ reason, requestId, alsoRefused: last?.refusedSince ?? 0 }, 'answering 503');
    this.last.set(reason, { loggedAt: at, refusedSince: 0 });
  }
}
