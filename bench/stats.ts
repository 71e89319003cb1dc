// Small statistics helpers shared by the bench processes.

/** Percentile of an ascending-sorted array (nearest rank); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** One server stream as a client saw it. */
export interface StreamRun {
  messages: number;
  seconds: number;
  /** ms from the call's start to the first complete message */
  firstMs: number;
}

/** Medians over several streams of `count` messages. */
export function streamSummary(runs: StreamRun[], count: number): Record<string, unknown> {
  const rates = runs.map((r) => r.messages / r.seconds).sort((a, b) => a - b);
  const firsts = runs.map((r) => r.firstMs).sort((a, b) => a - b);
  return {
    streams: runs.length,
    messages: runs.reduce((a, r) => a + r.messages, 0),
    errors: runs.filter((r) => r.messages !== count).length,
    durationS: runs.reduce((a, r) => a + r.seconds, 0),
    msgsPerS: percentile(rates, 50),
    firstMsgMs: percentile(firsts, 50),
    runs,
  };
}

/** Where a measurement belongs: same-round ratios pair samples of one round. */
export interface RoundSample {
  case: string;
  path: string;
  round: number;
}

/** Median over rounds of a per-round ratio (or difference) of two paths; never across rounds. */
export function perRound<S extends RoundSample>(
  samples: readonly S[],
  c: string,
  a: string,
  b: string,
  f: (s: S) => number | undefined,
  op: 'ratio' | 'diff' = 'ratio',
  cb: string = c,
): number {
  const out: number[] = [];
  for (const sa of samples.filter((s) => s.case === c && s.path === a)) {
    const sb = samples.find((s) => s.case === cb && s.path === b && s.round === sa.round);
    const x = f(sa);
    const y = sb ? f(sb) : undefined;
    if (x === undefined || y === undefined) continue;
    out.push(op === 'ratio' ? x / y : x - y);
  }
  return median(out);
}

export type TargetCheck =
  | {
      target: string;
      value: string;
      /** null: not measured (skipped), never counted as met */
      met: boolean | null;
      reference?: undefined;
    }
  | {
      /** A figure to read a target against (e.g. bench/relay.ts's ceiling), not a target. */
      target: string;
      value: string;
      met: null;
      reference: true;
    };

/** The targets table's last column: a reference line reads "reference", never yes or no. */
export function metCell(c: TargetCheck): string {
  if (c.reference) return 'reference';
  return c.met === null ? '–' : c.met ? 'yes' : '**no**';
}

/** How many targets were met, not met and skipped; reference lines are counted apart. */
export function tallyTargets(checks: readonly TargetCheck[]): { met: number; notMet: number; skipped: number; references: number } {
  const t = { met: 0, notMet: 0, skipped: 0, references: 0 };
  for (const c of checks) {
    if (c.reference) t.references++;
    else if (c.met === null) t.skipped++;
    else if (c.met) t.met++;
    else t.notMet++;
  }
  return t;
}
