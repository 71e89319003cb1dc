/** What a balancer needs to know about an endpoint: nothing but its load. */
export interface Pickable {
  readonly inFlight: number;
}

/**
 * Picks one of the READY endpoints for a call. `ready` is owned by the pool and
 * replaced (never mutated) when the ready set changes, so a balancer may keep
 * cursor state between picks.
 */
export interface Balancer<T extends Pickable> {
  readonly name: string;
  /** `exclude`: endpoints this call already failed on (transparent retry); avoided when others exist. */
  pick(ready: readonly T[], exclude?: ReadonlySet<T>): T | undefined;
}
