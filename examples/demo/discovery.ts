// Where the demo's gateway learns the Pods from (--discovery): a headless Service's DNS records
// served by examples/headless-dns (a child process), or the Service's EndpointSlices on the
// API-server stand-in of examples/kube-api (HTTPS, a token, list+watch; in this process).
import { startStandIn } from '../kube-api/setup.js';
import type { StandInEndpoint } from '../kube-api/server.js';
import type { Children } from './children.js';

export type DiscoveryKind = 'dns' | 'k8s';
export const DISCOVERY_KINDS: readonly DiscoveryKind[] = ['dns', 'k8s'];

export interface Discovery {
  /** How the events name the list a Pod joins or leaves: "DNS" or "the EndpointSlice". */
  where: string;
  /** The header's line about it. */
  describe: string;
  /** For the header's pids line. */
  pids: string;
  /** The gateway's flags that point it there (the Pods listen on podPort). */
  gatewayArgs(podPort: number): string[];
  /**
   * The Service's Pods now ("host:port"): `ready` ones, and `leaving` ones that were told to stop
   * and still serve (an EndpointSlice lists them terminating; DNS simply drops them).
   */
  publish(ready: string[], leaving: string[]): Promise<void>;
  close(): Promise<void>;
}

const SERVICE = 'echo-headless';
const NAMESPACE = 'demo';
const hostOf = (address: string): string => address.slice(0, address.lastIndexOf(':'));
const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

export async function startDiscovery(kind: DiscoveryKind, children: Children): Promise<Discovery> {
  if (kind === 'dns') {
    const name = `${SERVICE}.${NAMESPACE}.svc.cluster.local`;
    const dns = await children.startDns();
    return {
      where: 'DNS',
      describe: `DNS         127.0.0.1:${dns.port} (pid ${dns.pid}) answers ${name} with one A record per Pod`,
      pids: `dns ${dns.pid}`,
      gatewayArgs: (podPort) => ['--upstream', `dns:///${name}:${podPort}`, '--dns-server', `127.0.0.1:${dns.port}`, '--resolve-interval', '1s'],
      publish: (ready) => dns.set(name, ready.map(hostOf), 1),
      close: async () => {},
    };
  }
  const kube = await startStandIn();
  return {
    where: 'the EndpointSlice',
    describe:
      `k8s API     ${kube.api.url} (a stand-in, in this process) serves the EndpointSlice of ${SERVICE}.${NAMESPACE}` +
      ' (ready Pods; terminating ones while they stop)',
    pids: 'API server stand-in in the demo process',
    gatewayArgs: () => ['--upstream', `k8s:///${SERVICE}.${NAMESPACE}:grpc`, '--kubeconfig', kube.kubeconfig],
    publish: async (ready, leaving) => {
      const all = [...ready, ...leaving];
      const endpoints: StandInEndpoint[] = [
        ...ready.map((a) => ({ ip: hostOf(a), ready: true, serving: true, terminating: false })),
        ...leaving.map((a) => ({ ip: hostOf(a), ready: false, serving: true, terminating: true })),
      ];
      kube.api.apply({
        name: `${SERVICE}-demo1`,
        namespace: NAMESPACE,
        service: SERVICE,
        ports: [{ name: 'grpc', port: all.length > 0 ? portOf(all[0]!) : 0 }],
        endpoints,
      });
    },
    close: () => kube.close(),
  };
}
