import type { Balancer, Pickable } from './types.js';

/**
 * Round-robin over the READY endpoints. The cursor starts at a random place so that
 * several gateway replicas do not all send their first calls to the same Pod.
 */
export class RoundRobinBalancer<T extends Pickable> implements Balancer<T> {
  readonly name = 'round-robin';
  private cursor = Math.floor(Math.random() * 1024);

  pick(ready: readonly T[], exclude?: ReadonlySet<T>): T | undefined {
    const n = ready.length;
    if (n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const candidate = ready[this.cursor++ % n]!;
      if (!exclude || !exclude.has(candidate)) return candidate;
    }
    // Every ready endpoint was tried already: better a second try somewhere than none.
    return ready[this.cursor++ % n];
  }
}
