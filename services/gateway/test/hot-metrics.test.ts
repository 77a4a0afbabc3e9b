import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram, PendingCount } from '../src/hot-metrics.js';

const BUCKETS = [0.0005, 0.001, 0.005, 0.1];
const SAMPLES: [string, number][] = [
  ['/a', 0.0005], // on a bound: counted in that bucket, as prom-client does
  ['/a', 0.003],
  ['/a', 20], // past every bound: +Inf only
  ['/b', 0.0001],
];

/** The same observations through prom-client's own Histogram, for comparison. */
function reference(): Registry {
  const registry = new Registry();
  const histogram = new Histogram({ name: 'latency_seconds', help: 'h', labelNames: ['route'], buckets: BUCKETS, registers: [registry] });
  for (const [route, value] of SAMPLES) histogram.observe({ route }, value);
  return registry;
}

function ours(): Registry {
  const registry = new Registry();
  const histogram = new LatencyHistogram('latency_seconds', 'h', BUCKETS, registry);
  const series = new Map([['/a', histogram.series({ route: '/a' })], ['/b', histogram.series({ route: '/b' })], ['/never', histogram.series({ route: '/never' })]]);
  for (const [route, value] of SAMPLES) series.get(route)!.observe(value);
  return registry;
}

describe('LatencyHistogram', () => {
  it("exports exactly what prom-client's Histogram exports for the same observations", async () => {
    expect(await ours().metrics()).toBe(await reference().metrics());
    expect(await ours().metrics()).toContain('latency_seconds_bucket{le="0.0005",route="/a"} 1');
    // A series that saw nothing is not exported, as with prom-client.
    expect(await ours().metrics()).not.toContain('/never');
  });

  it('aggregates across GATEWAY_WORKERS like a Histogram', async () => {
    const workers = [await ours().getMetricsAsJSON(), await ours().getMetricsAsJSON()];
    const expected = [await reference().getMetricsAsJSON(), await reference().getMetricsAsJSON()];
    expect(await AggregatorRegistry.aggregate(workers).metrics()).toBe(await AggregatorRegistry.aggregate(expected).metrics());
  });

  it('starts again from zero when the registry is reset', async () => {
    const registry = ours();
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('route=');
  });
});

describe('PendingCount', () => {
  it('hands its count to the counter when scraped, once', async () => {
    const registry = new Registry();
    const count = new PendingCount({ route: '/a', status: '200' });
    new Counter({
      name: 'requests_total',
      help: 'r',
      labelNames: ['route', 'status'],
      registers: [registry],
      collect() {
        count.drainInto(this);
      },
    });
    count.inc();
    count.inc();
    expect(await registry.metrics()).toContain('requests_total{route="/a",status="200"} 2');
    count.inc();
    expect(await registry.metrics()).toContain('requests_total{route="/a",status="200"} 3');
    expect(await registry.metrics()).toContain('requests_total{route="/a",status="200"} 3');
  });
});
