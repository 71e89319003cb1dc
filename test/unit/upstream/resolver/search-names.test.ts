import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { candidateNames } from '../../../../src/upstream/resolver/search-names.js';

const k8s = ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];

describe('candidateNames', () => {
  it('Kubernetes: a short Service name tries the namespace first', () => {
    expect(candidateNames('echo-headless', k8s, 5)).toEqual([
      'echo-headless.default.svc.cluster.local',
      'echo-headless.svc.cluster.local',
      'echo-headless.cluster.local',
      'echo-headless',
    ]);
  });

  it('fewer dots than ndots: search domains first, then as written', () => {
    expect(candidateNames('echo.other', k8s, 5)).toEqual([
      'echo.other.default.svc.cluster.local',
      'echo.other.svc.cluster.local',
      'echo.other.cluster.local',
      'echo.other',
    ]);
  });

  it('at least ndots dots: as written first, then the search domains', () => {
    expect(candidateNames('echo.default.svc.cluster.local', k8s, 4)).toEqual([
      'echo.default.svc.cluster.local',
      'echo.default.svc.cluster.local.default.svc.cluster.local',
      'echo.default.svc.cluster.local.svc.cluster.local',
      'echo.default.svc.cluster.local.cluster.local',
    ]);
    expect(candidateNames('a.b', ['x'], 1)).toEqual(['a.b', 'a.b.x']);
  });

  it('a trailing dot makes the name absolute', () => {
    expect(candidateNames('echo.default.svc.cluster.local.', k8s, 5)).toEqual(['echo.default.svc.cluster.local']);
    expect(candidateNames('echo.', k8s, 5)).toEqual(['echo']);
  });

  it('no search domains: just the name', () => {
    expect(candidateNames('echo', [], 1)).toEqual(['echo']);
    expect(candidateNames('echo', [], 0)).toEqual(['echo']);
  });

  it('properties: absolute names are tried once; otherwise every domain once and the name once', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    const nameArb = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(nameArb, fc.uniqueArray(nameArb, { maxLength: 6 }), fc.integer({ min: 0, max: 15 }), (name, search, ndots) => {
        expect(candidateNames(`${name}.`, search, ndots)).toEqual([name]);
        const c = candidateNames(name, search, ndots);
        expect(c).toContain(name);
        for (const d of search) expect(c).toContain(`${name}.${d}`);
        expect(new Set(c.map((x) => x.toLowerCase())).size).toBe(c.length);
        const dots = name.split('.').length - 1;
        if (dots >= ndots) expect(c[0]).toBe(name);
        else expect(c[c.length - 1]).toBe(name);
      }),
    );
  });
});
