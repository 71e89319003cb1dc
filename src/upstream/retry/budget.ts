/**
 * Envoy's retry budget: retries in progress may be at most `percent` of the calls in progress,
 * and at least `minConcurrency`. When a backend sheds load by failing calls, retries then add a
 * bounded fraction to its load instead of multiplying it by the number of attempts.
 */
export class RetryBudget {
  private active = 0;
  private refused = 0;

  constructor(
    private readonly percent: number,
    private readonly minConcurrency = 3,
  ) {}

  /** Claims a slot for a call that is about to be retried, if the budget has one. */
  tryAcquire(callsInProgress: number): boolean {
    const limit = Math.max(this.minConcurrency, Math.floor((callsInProgress * this.percent) / 100));
    if (this.active >= limit) {
      this.refused++;
      return false;
    }
    this.active++;
    return true;
  }

  /** The retried call has ended. */
  release(): void {
    this.active--;
  }

  get inProgress(): number {
    return this.active;
  }

  /** Retries not made because the budget was spent. */
  get exhausted(): number {
    return this.refused;
  }
}
