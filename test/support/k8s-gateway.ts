// The gateway as users run it (dist/cli.js in its own process) with a k8s:/// upstream and a
// kubeconfig that points at the API-server stand-in, and the /endpoints view tests wait on.
import type { EndpointsView, UpstreamView } from '../../src/admin/endpoints.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from './gateway-process.js';
import { freePort } from './ports.js';

export interface K8sGateway {
  process: GatewayProcess;
  httpUrl: string;
  adminUrl: string;
  /** The (only) upstream as /endpoints shows it now. */
  upstream(): Promise<UpstreamView>;
  /** Addresses in rotation now, sorted. */
  inRotation(): Promise<string[]>;
  /** Waits until the addresses in rotation are exactly `expected`; returns how long that took. */
  waitForRotation(expected: string[], timeoutMs?: number): Promise<number>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startK8sGateway(target: string, kubeconfig: string, extra: string[] = []): Promise<K8sGateway> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const gw = spawnGateway([
    '--listen', `127.0.0.1:${port}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--upstream', target,
    '--kubeconfig', kubeconfig,
    '--pod-drain-timeout', '5s',
    '--shutdown-delay', '0',
    '--no-access-log',
    ...extra,
  ]);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await waitForStatus(`${adminUrl}/healthz`, 200, 20_000);
  } catch (err) {
    gw.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; gateway output:\n${gw.output()}`);
  }
  const upstream = async (): Promise<UpstreamView> => {
    const r = await fetch(`${adminUrl}/endpoints`);
    const view = (await r.json()) as Partial<EndpointsView>;
    // With --workers, the primary answers without upstreams until a worker has reported.
    if (!view.upstreams?.[0]) throw new Error(`/endpoints has no upstream yet (HTTP ${r.status})`);
    return view.upstreams[0];
  };
  const inRotation = async (): Promise<string[]> =>
    (await upstream().catch(() => ({ endpoints: [] as UpstreamView['endpoints'] }))).endpoints
      .filter((e) => e.inRotation)
      .map((e) => e.address)
      .sort();
  return {
    process: gw,
    httpUrl: `http://127.0.0.1:${port}`,
    adminUrl,
    upstream,
    inRotation,
    async waitForRotation(expected, timeoutMs = 15_000) {
      const want = [...expected].sort().join(',');
      const start = performance.now();
      for (;;) {
        const got = (await inRotation()).join(',');
        if (got === want) return performance.now() - start;
        if (performance.now() - start > timeoutMs) throw new Error(`in rotation: ${got} != ${want} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    metrics: async () => (await fetch(`${adminUrl}/metrics`)).text(),
    async stop() {
      gw.kill('SIGTERM');
      const t = setTimeout(() => gw.kill('SIGKILL'), 5_000);
      await gw.exited;
      clearTimeout(t);
    },
  };
}
