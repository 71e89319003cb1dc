import type { Balancer, Pickable } from './types.js';

/** An endpoint whose zone discovery may know. */
export interface Zoned extends Pickable {
  readonly zone?: string | undefined;
}

/**
 * --prefer-zone: the inner balancer picks among the endpoints in `zone` while there are any in
 * rotation, else among all — cross-zone traffic is billed and slower, a call failed is worse.
 * The zone's share of `ready` is computed once per rotation (the pool replaces the array whenever
 * membership, state or a zone changes), so a pick allocates nothing.
 */
export class ZonePreferringBalancer<T extends Zoned> implements Balancer<T> {
  readonly name: string;
  private seen: readonly T[] | null = null;
  private local: readonly T[] = [];

  constructor(
    private readonly zone: string,
    private readonly inner: Balancer<T>,
  ) {
    this.name = inner.name;
  }

  pick(ready: readonly T[], exclude?: ReadonlySet<T>): T | undefined {
    if (ready !== this.seen) {
      this.seen = ready;
      this.local = ready.filter((e) => e.zone === this.zone);
    }
    // A retry that already failed on every local Pod goes to another zone rather than back.
    const localLeft = this.local.length > 0 && !(exclude && exclude.size > 0 && this.local.every((e) => exclude.has(e)));
    return this.inner.pick(localLeft ? this.local : ready, exclude);
  }
}
