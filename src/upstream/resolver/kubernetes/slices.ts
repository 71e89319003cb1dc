// EndpointSlices (discovery.k8s.io/v1) → the Pod addresses of one Service. A Service's endpoints
// are spread over several slices (at most 100 endpoints each by default), so the answer is always
// the join of every slice of the Service, never one slice's view.
import { isIP } from 'node:net';
import type { ResolvedAddress } from '../../types.js';

/** The fields of an EndpointSlice discovery reads. */
export interface EndpointSlice {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: SlicePort[] | null;
}

export interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  zone?: string;
}

export interface SlicePort {
  name?: string | null;
  port?: number | null;
  protocol?: string | null;
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * The Pods' port for `port` in this slice: a number is used as given (as for dns:///); a name is
 * looked up in the slice's ports — each slice carries its own, since Pods behind one Service may
 * give the named port different numbers. Undefined: this slice has no such port.
 */
export function slicePort(slice: EndpointSlice, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  for (const p of slice.ports ?? []) {
    if (p?.name === port && (p.protocol ?? 'TCP') === 'TCP' && typeof p.port === 'number') return p.port;
  }
  return undefined;
}

/**
 * What an endpoint's conditions mean for calls, by the API's rules: a missing `ready` means
 * ready; a missing `serving` falls back to `ready`; a missing `terminating` means not.
 * ready → 'rotation'; serving and terminating → 'draining' (in-flight calls finish, no new
 * ones); anything else → 'gone'.
 */
export function endpointRole(e: SliceEndpoint): 'rotation' | 'draining' | 'gone' {
  const c = e.conditions ?? {};
  const ready = c.ready ?? true;
  const serving = c.serving ?? ready;
  const terminating = c.terminating ?? false;
  if (ready && !terminating) return 'rotation';
  if (serving && terminating) return 'draining';
  return 'gone';
}

/**
 * The addresses of every slice, joined: one per endpoint (its first address, which the API says
 * consumers may use alone), IP slices only. An address listed twice (a Pod moving between slices)
 * is in rotation if any slice says so. Sorted, so equal sets compare equal.
 */
export function joinSlices(slices: Iterable<EndpointSlice>, port: number | string): ResolvedAddress[] {
  const byKey = new Map<string, ResolvedAddress>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const p = slicePort(slice, port);
    if (p === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      const host = e?.addresses?.[0];
      if (typeof host !== 'string' || isIP(host) === 0) continue;
      const role = endpointRole(e);
      if (role === 'gone') continue;
      const key = `${host}|${p}`;
      const seen = byKey.get(key);
      if (seen && !seen.draining) continue;
      const address: ResolvedAddress = { host, port: p };
      if (role === 'draining') address.draining = true;
      if (typeof e.zone === 'string' && e.zone !== '') address.zone = e.zone;
      byKey.set(key, address);
    }
  }
  return [...byKey.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port));
}

/** Slices whose named port is missing: for one log line saying why a slice gives no Pods. */
export function slicesWithoutPort(slices: Iterable<EndpointSlice>, port: number | string): string[] {
  if (typeof port === 'number') return [];
  const names: string[] = [];
  for (const s of slices) if ((s.endpoints?.length ?? 0) > 0 && slicePort(s, port) === undefined) names.push(s.metadata.name);
  return names;
}
