/** How often a source proves contact (the Redis source reads the sequence counter). */
export const DEFAULT_HEARTBEAT_MS = 1000;
/** How long the Redis source's `start()` waits for the first snapshot before rejecting (it keeps retrying). */
export const DEFAULT_START_TIMEOUT_MS = 5000;
/** How often a RevocationSet drops expired entries from memory (lookups also drop them lazily). */
export const DEFAULT_PRUNE_INTERVAL_MS = 30_000;
