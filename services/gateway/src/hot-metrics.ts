import type { Counter, Metric, Registry } from 'prom-client';

/**
 * Per-request recording in plain numbers, read by prom-client only when `/metrics` is scraped.
 *
 * prom-client's own `inc()` and `observe()` validate and hash the label values on every call, even on a
 * child with its labels bound: under load that measured about 2% of a proxied request's CPU. What is
 * exported is unchanged: the same metric names, labels, buckets, text format and cluster aggregation.
 */

/** Adds to one counter series; the counter picks the sum up when scraped (see `drainInto`). */
export class PendingCount {
  private count = 0;

  constructor(private readonly labels: Record<string, string>) {}

  inc(): void {
    this.count += 1;
  }

  /** Called from the counter's `collect`: hands over what was counted since the last scrape. */
  drainInto(counter: Counter): void {
    if (this.count === 0) return;
    counter.inc(this.labels, this.count);
    this.count = 0;
  }
}

/** One label set of a LatencyHistogram: counts per bucket (not cumulative), the last one being +Inf. */
export class LatencySeries {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    private readonly bounds: readonly number[],
    private readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  get observed(): boolean {
    return this.count > 0;
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  /** prom-client's histogram values for this series: cumulative buckets, then sum and count. */
  values(name: string): HistogramValue[] {
    const out: HistogramValue[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { le: this.bounds[i]!, ...this.labels }, value: cumulative });
    }
    out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...this.labels }, value: this.count });
    out.push({ metricName: `${name}_sum`, labels: { ...this.labels }, value: this.sum });
    out.push({ metricName: `${name}_count`, labels: { ...this.labels }, value: this.count });
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface HistogramValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram the registry treats like prom-client's own: the registry only calls `get()` (text format,
 * and the JSON that GATEWAY_WORKERS' primary aggregates by `aggregator`) and `reset()`.
 */
export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly all: LatencySeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    // The registry's type names prom-client's four classes; this object answers the same calls.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series with these labels, kept for the life of the histogram. */
  series(labels: Record<string, string>): LatencySeries {
    const series = new LatencySeries(this.bounds, labels);
    this.all.push(series);
    return series;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    // As prom-client does, a series appears once it has an observation.
    const values = this.all.flatMap((s) => (s.observed ? s.values(this.name) : []));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const s of this.all) s.reset();
  }
}
