// The per-call metrics as plain numbers. A prom-client label child still hashes its label values
// on every inc() and observe(); a call adds to the tallies of its (route, method) instead, and
// prom-client reads them only when /metrics is scraped (./metrics.ts).
import type { Metric } from 'prom-client';

/** The calls of one (route, method label) so far. */
export class CallTally {
  /** Calls finished, by gRPC status code (index); codes outside 0..63 go to `oddCodes`. */
  readonly codes: number[] = [];
  readonly oddCodes = new Map<number, number>();
  /** Per duration bucket (not cumulative), then one past the last bound for +Inf. */
  readonly buckets: number[];
  durationSum = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly labels: { readonly route: string; readonly method: string },
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Array<number>(bounds.length + 1).fill(0);
  }

  add(code: number, seconds: number, bytesIn: number, bytesOut: number): void {
    if (code >= 0 && code < 64) this.codes[code] = (this.codes[code] ?? 0) + 1;
    else this.oddCodes.set(code, (this.oddCodes.get(code) ?? 0) + 1);
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += seconds;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram read from CallTallies, in prom-client's Metric shape (what Registry and the
 * --workers AggregatorRegistry read: name, help, type, aggregator and get()), so that it renders
 * and merges across workers exactly as a prom-client Histogram with the same buckets.
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly tallies: () => Iterable<CallTally>,
  ) {}

  /** Registers it on `registry` (prom-client types its registries for its own classes only). */
  registerOn(registry: { registerMetric(metric: Metric): void }): void {
    registry.registerMetric(this as unknown as Metric);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    for (const tally of this.tallies()) {
      const { route, method } = tally.labels;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += tally.buckets[i]!;
        values.push({ labels: { le: this.bounds[i]!, route, method }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      const count = cumulative + tally.buckets[this.bounds.length]!;
      values.push({ labels: { le: '+Inf', route, method }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels: { route, method }, value: tally.durationSum, metricName: `${this.name}_sum` });
      values.push({ labels: { route, method }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** prom-client's Registry.resetMetrics(): the tallies are the calls' own, so they stay. */
  reset(): void {}
}
