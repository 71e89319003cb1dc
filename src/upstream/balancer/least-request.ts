import type { Balancer, Pickable } from './types.js';

/**
 * Least-request by "power of two random choices": sample two distinct READY endpoints and
 * take the one with fewer calls in flight. A slow Pod accumulates in-flight calls and so
 * loses most comparisons, without the herd effect of always picking the global minimum.
 */
export class LeastRequestBalancer<T extends Pickable> implements Balancer<T> {
  readonly name = 'least-request';

  constructor(private readonly random: () => number = Math.random) {}

  pick(ready: readonly T[], exclude?: ReadonlySet<T>): T | undefined {
    let pool = ready;
    if (exclude && exclude.size > 0) {
      const allowed = ready.filter((e) => !exclude.has(e));
      if (allowed.length > 0) pool = allowed;
    }
    const n = pool.length;
    if (n === 0) return undefined;
    if (n === 1) return pool[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++; // two distinct choices
    const a = pool[i]!;
    const b = pool[j]!;
    if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight ? a : b;
    return this.random() < 0.5 ? a : b;
  }
}
