import { describe, expect, it } from 'vitest';
import { notReadyReason, type AdminState } from '../../../src/admin/server.js';
import type { Upstream } from '../../../src/upstream/types.js';

function upstream(name: string) {
  const u = { name, ready: false, isReady: () => u.ready };
  return u;
}

describe('readiness', () => {
  it('waits for every upstream to have a connected Pod, then stays ready while Pods come and go', () => {
    const a = upstream('a');
    const b = upstream('b');
    const ups = [a, b] as unknown as Upstream[];
    const state: AdminState = { shuttingDown: false };
    expect(notReadyReason(ups, state)).toBe('no connected Pod yet for: a, b');
    a.ready = true;
    expect(notReadyReason(ups, state)).toBe('no connected Pod yet for: b');
    b.ready = true;
    expect(notReadyReason(ups, state)).toBeNull();
    // Every backend Pod of `a` goes away: the gateway stays in its load balancer and answers
    // UNAVAILABLE itself rather than leaving browsers with the load balancer's bare 5xx.
    a.ready = false;
    expect(notReadyReason(ups, state)).toBeNull();
  });

  it('is not ready from the moment shutdown starts', () => {
    const a = upstream('a');
    a.ready = true;
    const state: AdminState = { shuttingDown: false };
    expect(notReadyReason([a] as unknown as Upstream[], state)).toBeNull();
    state.shuttingDown = true;
    expect(notReadyReason([a] as unknown as Upstream[], state)).toBe('shutting down');
  });
});
