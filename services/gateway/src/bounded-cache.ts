/**
 * A size-bounded map that forgets its oldest insertion first. A Map iterates in insertion order, so the
 * oldest key is always `keys().next()`: no LRU bookkeeping on reads, which keeps a cache hit one lookup.
 * Entries past their own expiry are dropped by the caller on read (the cache does not know about time).
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    // Re-inserting moves the key to the young end, so a refreshed entry is not the next one evicted.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
