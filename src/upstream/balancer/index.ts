import type { BalancerName } from '../../config/types.js';
import { LeastRequestBalancer } from './least-request.js';
import { RoundRobinBalancer } from './round-robin.js';
import type { Balancer } from './types.js';
import { ZonePreferringBalancer, type Zoned } from './zone.js';

export type { Balancer, Pickable } from './types.js';
export { RoundRobinBalancer } from './round-robin.js';
export { LeastRequestBalancer } from './least-request.js';
export { ZonePreferringBalancer, type Zoned } from './zone.js';

/** `preferZone`: keep calls in that zone while it has endpoints in rotation (--prefer-zone). */
export function createBalancer<T extends Zoned>(name: BalancerName, preferZone: string | null = null): Balancer<T> {
  const inner = baseBalancer<T>(name);
  return preferZone === null ? inner : new ZonePreferringBalancer(preferZone, inner);
}

function baseBalancer<T extends Zoned>(name: BalancerName): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer<T>();
    case 'least-request':
      return new LeastRequestBalancer<T>();
  }
}
