// The names a resolver tries for a name, in order, as glibc's res_search does and as Kubernetes
// relies on (Pods get `options ndots:5` and `search <ns>.svc.cluster.local svc.cluster.local
// cluster.local`):
// - "name." is absolute: only "name" is tried;
// - a name with at least `ndots` dots is tried as written first, then with each search domain;
// - otherwise each search domain first, then the name as written.
// Returned names carry no trailing dot; duplicates are dropped.

export function candidateNames(name: string, search: readonly string[], ndots: number): string[] {
  const trimmed = name.trim();
  if (trimmed.endsWith('.')) {
    const abs = trimmed.replace(/\.+$/, '');
    return abs ? [abs] : [];
  }
  if (!trimmed) return [];
  const domains = search.map((d) => d.trim().replace(/^\.+|\.+$/g, '')).filter((d) => d.length > 0);
  const dots = trimmed.split('.').length - 1;
  const searched = domains.map((d) => `${trimmed}.${d}`);
  const ordered = dots >= ndots ? [trimmed, ...searched] : [...searched, trimmed];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const n of ordered) {
    const key = n.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  return out;
}
