import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { RetryBudget, backoffMs, coversMethod, retryPolicy, serverPushback } from '../../../../src/upstream/retry/index.js';

const policy = retryPolicy({
  codes: [14],
  methods: ['/shop.Catalog/', '/shop.Cart/Get'],
  maxAttempts: 3,
  initialBackoffMs: 25,
  maxBackoffMs: 250,
  budgetPercent: 20,
})!;

describe('retry policy', () => {
  it('is off without codes or methods', () => {
    expect(retryPolicy(null)).toBeNull();
    expect(retryPolicy({ codes: [], methods: ['/a.B/'], maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, budgetPercent: 20 })).toBeNull();
  });

  it('covers the declared methods by prefix only', () => {
    expect(coversMethod(policy, '/shop.Catalog/List')).toBe(true);
    expect(coversMethod(policy, '/shop.Cart/GetItems')).toBe(true);
    expect(coversMethod(policy, '/shop.Cart/Checkout')).toBe(false);
    expect(coversMethod(policy, '/shop.CatalogAdmin/Delete')).toBe(false);
  });

  it('backs off with full jitter, doubling up to the cap', () => {
    expect(backoffMs(policy, 1, () => 0.999)).toBe(24);
    expect(backoffMs(policy, 2, () => 0.999)).toBe(49);
    expect(backoffMs(policy, 5, () => 0.999)).toBe(249); // 25 × 16 = 400, capped at 250
    expect(backoffMs(policy, 3, () => 0)).toBe(0);
  });

  it("reads the server's grpc-retry-pushback-ms: a delay, or 'stop' when it is negative or malformed", () => {
    const md = (v?: string) => {
      const m = new Metadata();
      if (v !== undefined) m.set('grpc-retry-pushback-ms', v);
      return m;
    };
    expect(serverPushback(md())).toBeUndefined();
    expect(serverPushback(md('100'))).toBe(100);
    expect(serverPushback(md('-1'))).toBe('stop');
    expect(serverPushback(md('soon'))).toBe('stop');
  });
});

describe('retry budget (Envoy: 20% of the calls in progress, at least 3)', () => {
  it('allows at least 3 retries in progress, then a fifth of the calls in progress', () => {
    const budget = new RetryBudget(20);
    expect([1, 2, 3, 4].map(() => budget.tryAcquire(5))).toEqual([true, true, true, false]);
    expect(budget.tryAcquire(20)).toBe(true); // 20% of 20 = 4
    expect(budget.tryAcquire(20)).toBe(false);
    budget.release();
    expect(budget.inProgress).toBe(3);
    expect(budget.tryAcquire(5)).toBe(false); // still at the minimum of 3
    expect(budget.exhausted).toBe(3);
  });
});
