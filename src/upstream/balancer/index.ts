import type { BalancerName } from '../../config/types.js';
import { LeastRequestBalancer } from './least-request.js';
import { RoundRobinBalancer } from './round-robin.js';
import type { Balancer, Pickable } from './types.js';

export type { Balancer, Pickable } from './types.js';
export { RoundRobinBalancer } from './round-robin.js';
export { LeastRequestBalancer } from './least-request.js';

export function createBalancer<T extends Pickable>(name: BalancerName): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer<T>();
    case 'least-request':
      return new LeastRequestBalancer<T>();
  }
}
