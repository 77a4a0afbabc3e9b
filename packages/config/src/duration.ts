/**
 * Durations as users write them (Appclacks's TTL): an integer and a unit, `10s`, `60m`, `10000h`, `7d`.
 * Several parts may follow each other (`1h30m`). Answers milliseconds, or null for anything else.
 */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d{1,9})(ms|s|m|h|d)/g;

export function parseDuration(text: string): number | null {
  if (!DURATION_RE.test(text)) return null;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART_RE)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** `3600000` → `1h`; used to show configured durations back to users. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
