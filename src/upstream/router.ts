import type { Upstream } from './types.js';

export interface RouteEntry {
  prefix: string;
  upstream: Upstream;
}

/**
 * gRPC path → upstream: the longest matching prefix wins, else the default upstream.
 * Routes are few (one per service at most), so a scan of prefixes sorted longest first
 * beats any cache an attacker could fill with made-up paths.
 */
export class Router {
  private readonly routes: RouteEntry[];
  private readonly fallback: RouteEntry | null;

  constructor(routes: RouteEntry[], fallback: Upstream | null) {
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
    // The default upstream's "prefix" is empty: it matches everything, last.
    this.fallback = fallback ? { prefix: '', upstream: fallback } : null;
  }

  route(path: string): RouteEntry | null {
    for (const r of this.routes) if (path.startsWith(r.prefix)) return r;
    return this.fallback;
  }
}
