import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers that a presented PAT matched a stored bcrypt hash, so repeating the exchange skips bcrypt.
 * Keyed by an HMAC of the PAT under a per-process key (the PAT itself is never kept), and valid only
 * while the stored hash is still the one it matched: a rotation changes the hash and empties the entry.
 * Token state (enabled, retired, expiry, owner role) is read from the store on every exchange anyway.
 */
export class VerifiedPatCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { secretHash: string; until: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  private id(pat: string): string {
    return createHmac('sha256', this.key).update(pat).digest('base64url');
  }

  matches(pat: string, secretHash: string): boolean {
    const id = this.id(pat);
    const entry = this.entries.get(id);
    if (!entry) return false;
    if (entry.until <= this.clock() || entry.secretHash !== secretHash) {
      this.entries.delete(id);
      return false;
    }
    return true;
  }

  remember(pat: string, secretHash: string): void {
    const id = this.id(pat);
    this.entries.delete(id);
    // Map iteration order is insertion order: the first key is the oldest entry.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { secretHash, until: this.clock() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
