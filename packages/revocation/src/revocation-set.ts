import { DEFAULT_PRUNE_INTERVAL_MS } from './defaults.js';
import type { ReloadReason, RevocationEntry, RevocationHandlers, RevocationSource } from './types.js';


export interface RevocationSetOptions {
  source: RevocationSource;
  /** `isFresh()` turns false once the source has been silent this long. */
  stalenessMs: number;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
  /** How often expired entries are dropped from memory. */
  pruneIntervalMs?: number;
}

/** The claims `isRevoked` reads: the ones a session JWT carries. */
export interface RevocableClaims {
  tid?: string;
  /** The subject: a user's revocation (role lowered, deleted) covers every session they hold. */
  sub?: string;
  /** The application the session was issued to: denying it revokes `<tid>/<app>`. */
  app?: string;
  jti: string;
  /** Seconds, as in the JWT. */
  iat: number;
}

export type RevocationListener = (entries: readonly RevocationEntry[]) => void;

/** Per PAT, the latest revocation: it covers every session an earlier one does (see `add`). */
interface TokenRevocation {
  revokedAt: number;
  until: number;
}

/**
 * The revocation set a gateway (or auth) keeps in memory, fed by a source.
 *
 * Entries are only ever added, and forgotten once their `until` has passed, so every update (snapshot or
 * published entries) is a union: a snapshot can never drop an entry that arrived while it was loading.
 */
export class RevocationSet {
  readonly #source: RevocationSource;
  readonly #stalenessMs: number;
  readonly #now: () => number;
  readonly #pruneIntervalMs: number;
  readonly #tokens = new Map<string, TokenRevocation>();
  readonly #sessions = new Map<string, number>();
  readonly #listeners = new Set<RevocationListener>();
  #lastContactAt: number | undefined;
  #snapshots = 0;
  readonly #reloads = new Map<ReloadReason, number>();
  #pruneTimer: NodeJS.Timeout | undefined;

  constructor(options: RevocationSetOptions) {
    this.#source = options.source;
    this.#stalenessMs = options.stalenessMs;
    this.#now = options.now ?? Date.now;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
  }

  /** Resolves after the first snapshot; see the source for what a rejection means (the Redis one keeps retrying). */
  async start(): Promise<void> {
    if (!this.#pruneTimer) this.#pruneTimer = setInterval(() => this.prune(), this.#pruneIntervalMs).unref();
    const handlers: RevocationHandlers = {
      onSnapshot: (entries, last) => {
        this.#apply(entries);
        if (last) this.#snapshots += 1;
      },
      onReload: (reason) => {
        this.#reloads.set(reason, (this.#reloads.get(reason) ?? 0) + 1);
      },
      onEntries: (entries) => this.#apply(entries),
      onContact: (atMs) => {
        this.#lastContactAt = Math.max(this.#lastContactAt ?? atMs, atMs);
      },
    };
    await this.#source.start(handlers);
  }

  async stop(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await this.#source.close();
  }

  /**
   * The per-request check: a few Map lookups, no I/O. A session is revoked when its `jti` is, or when its
   * PAT, its subject or its PAT/application pair was revoked at or after the moment it was issued. Auth
   * writes `iat` with millisecond precision, so a session minted just after a revocation passes.
   */
  isRevoked(claims: RevocableClaims): boolean {
    const sessionUntil = this.#sessions.get(claims.jti);
    if (sessionUntil !== undefined && this.#liveOrForget(this.#sessions, claims.jti, sessionUntil)) return true;
    if (this.#tokens.size === 0) return false;
    // `iat` carries milliseconds (three decimals); rounding undoes the float error of the product.
    const issuedAt = Math.round(claims.iat * 1000);
    if (claims.tid !== undefined && this.#covers(claims.tid, issuedAt)) return true;
    if (claims.sub !== undefined && this.#covers(claims.sub, issuedAt)) return true;
    // Only sessions issued to a named application pay for building this key.
    return claims.tid !== undefined && claims.app !== undefined && this.#covers(`${claims.tid}/${claims.app}`, issuedAt);
  }

  /** Whether a token-kind entry for `id` (a PAT, a subject or a PAT/application pair) covers a session issued at `issuedAt`. */
  #covers(id: string, issuedAt: number): boolean {
    const token = this.#tokens.get(id);
    return token !== undefined && token.revokedAt >= issuedAt && this.#liveOrForget(this.#tokens, id, token.until);
  }

  /** When the PAT `tid` was last revoked (epoch ms), if that still matters: auth drops its cached PAT on it. */
  tokenRevokedAt(tid: string): number | undefined {
    const token = this.#tokens.get(tid);
    return token !== undefined && this.#liveOrForget(this.#tokens, tid, token.until) ? token.revokedAt : undefined;
  }

  /** True while the source has been heard from within `stalenessMs`; a gateway fails closed otherwise. */
  isFresh(): boolean {
    return this.#lastContactAt !== undefined && this.#now() - this.#lastContactAt <= this.#stalenessMs;
  }

  /** Epoch ms of the latest contact with the source, or `undefined` before the first. */
  get lastContactAt(): number | undefined {
    return this.#lastContactAt;
  }

  /**
   * Whole snapshots applied since start: the first load, then one per reload (a reconnect, a lost message, a
   * Redis that lost its data, a rebuild's resync message). Each reads every live entry again.
   */
  get snapshots(): number {
    return this.#snapshots;
  }

  /** Reloads the source decided on since start, by reason (the first load is not one). */
  get reloads(): ReadonlyMap<ReloadReason, number> {
    return this.#reloads;
  }

  /** Entries held: PATs with a revocation plus revoked sessions. */
  get size(): number {
    return this.#tokens.size + this.#sessions.size;
  }

  /**
   * Calls `listener` with the entries that changed the set (new, or a later revocation of a known PAT).
   * Listeners run synchronously; one that throws has its error rethrown asynchronously, as an
   * EventEmitter would, after the set and the other listeners are updated. Returns the unsubscribe.
   */
  subscribe(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops entries whose `until` has passed; runs on a timer, and lazily on lookups. */
  prune(): void {
    const now = this.#now();
    for (const [jti, until] of this.#sessions) if (until < now) this.#sessions.delete(jti);
    for (const [tid, token] of this.#tokens) if (token.until < now) this.#tokens.delete(tid);
  }

  #apply(entries: readonly RevocationEntry[]): void {
    const now = this.#now();
    const changed: RevocationEntry[] = [];
    for (const entry of entries) {
      if (entry.until >= now && this.#add(entry)) changed.push(entry);
    }
    if (changed.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(changed);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /**
   * Keeps one record per PAT: the latest `revokedAt` and the latest `until`. That covers exactly what the
   * separate revocations do, because `until` is the latest `exp` of the sessions an entry covers: a session
   * only the merged record catches (issued between the two revocations, alive past the later one's `until`)
   * cannot exist.
   */
  #add(entry: RevocationEntry): boolean {
    if (entry.kind === 'session') {
      const until = this.#sessions.get(entry.id);
      if (until !== undefined && until >= entry.until) return false;
      this.#sessions.set(entry.id, entry.until);
      return until === undefined;
    }
    const token = this.#tokens.get(entry.id);
    if (!token) {
      this.#tokens.set(entry.id, { revokedAt: entry.revokedAt, until: entry.until });
      return true;
    }
    const later = entry.revokedAt > token.revokedAt;
    token.revokedAt = Math.max(token.revokedAt, entry.revokedAt);
    token.until = Math.max(token.until, entry.until);
    return later;
  }

  /** True when the entry still matters; otherwise forgets it (the lazy half of pruning). */
  #liveOrForget(map: Map<string, unknown>, key: string, until: number): boolean {
    if (until >= this.#now()) return true;
    map.delete(key);
    return false;
  }
}
