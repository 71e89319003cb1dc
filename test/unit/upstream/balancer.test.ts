import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LeastRequestBalancer, RoundRobinBalancer, ZonePreferringBalancer } from '../../../src/upstream/balancer/index.js';

const endpoints = (loads: number[]) => loads.map((inFlight, i) => ({ id: i, inFlight }));

describe('RoundRobinBalancer', () => {
  it('visits every ready endpoint once per round, in order', () => {
    const b = new RoundRobinBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([0, 0, 0, 0, 0]);
    const picks = Array.from({ length: 50 }, () => b.pick(ready)!.id);
    for (let round = 0; round < 10; round++) {
      expect(new Set(picks.slice(round * 5, round * 5 + 5)).size).toBe(5);
    }
  });

  it('avoids excluded endpoints while others exist, and falls back to them when none do', () => {
    const b = new RoundRobinBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([0, 0, 0]);
    const exclude = new Set([ready[0]!, ready[1]!]);
    for (let i = 0; i < 10; i++) expect(b.pick(ready, exclude)!.id).toBe(2);
    expect(b.pick(ready, new Set(ready))).toBeDefined();
  });

  it('returns undefined with nothing ready', () => {
    expect(new RoundRobinBalancer().pick([])).toBeUndefined();
  });

  it('spreads evenly over any ready set (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), (n, rounds) => {
        const b = new RoundRobinBalancer<{ id: number; inFlight: number }>();
        const ready = endpoints(Array(n).fill(0));
        const counts = new Array(n).fill(0);
        for (let i = 0; i < n * rounds; i++) counts[b.pick(ready)!.id]++;
        return counts.every((c) => c === rounds);
      }),
    );
  });
});

describe('LeastRequestBalancer', () => {
  it('never picks the busier of any two endpoints it compares', () => {
    const b = new LeastRequestBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([0, 50]);
    for (let i = 0; i < 100; i++) expect(b.pick(ready)!.id).toBe(0);
  });

  it('gives a slow (busy) Pod a small share, not an equal one', () => {
    const b = new LeastRequestBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([10, 1, 1, 1, 1]); // Pod 0 is slow: calls pile up on it
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 5000; i++) counts[b.pick(ready)!.id]!++;
    // It can only win when compared with... nobody: P2C never picks it against a less loaded one.
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(c).toBeGreaterThan(1000);
  });

  it('is even over equally loaded endpoints', () => {
    const b = new LeastRequestBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([3, 3, 3, 3]);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[b.pick(ready)!.id]!++;
    for (const c of counts) expect(c).toBeGreaterThan(1700);
  });

  it('respects exclusions', () => {
    const b = new LeastRequestBalancer<{ id: number; inFlight: number }>();
    const ready = endpoints([0, 5, 5]);
    const exclude = new Set([ready[0]!]);
    for (let i = 0; i < 50; i++) expect(b.pick(ready, exclude)!.id).not.toBe(0);
  });
});

describe('ZonePreferringBalancer', () => {
  const zoned = (zones: string[]) => zones.map((zone, id) => ({ id, zone, inFlight: 0 }));

  it('picks only in its zone while the zone has endpoints, else among all', () => {
    const b = new ZonePreferringBalancer<{ id: number; zone: string; inFlight: number }>('a', new RoundRobinBalancer());
    const ready = zoned(['a', 'b', 'a', 'b']);
    const picks = Array.from({ length: 20 }, () => b.pick(ready)!.id);
    expect(new Set(picks)).toEqual(new Set([0, 2]));
    const noLocal = zoned(['b', 'c']);
    expect(new Set(Array.from({ length: 10 }, () => b.pick(noLocal)!.id))).toEqual(new Set([0, 1]));
  });

  it('a retry that failed on every endpoint of the zone goes to another zone', () => {
    const b = new ZonePreferringBalancer<{ id: number; zone: string; inFlight: number }>('a', new LeastRequestBalancer());
    const ready = zoned(['a', 'b']);
    expect(b.pick(ready, new Set([ready[0]!]))!.id).toBe(1);
  });
});
