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

  constructor(routes: RouteEntry[], private readonly fallback: Upstream | null) {
    this.routes = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  route(path: string): Upstream | null {
    for (const r of this.routes) if (path.startsWith(r.prefix)) return r.upstream;
    return this.fallback;
  }
}
