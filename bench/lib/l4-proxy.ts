// A ClusterIP stand-in for benchmarks: an L4 (TCP) proxy that, like kube-proxy, picks one backend per
// *connection*, at random among the backends it knows at that moment, and then only copies bytes.
// It learns its backends from DNS (the same headless Service the gateway resolves), re-resolving on
// an interval, as kube-proxy keeps following the Service's endpoints. Bytes of an open connection are
// never moved to another backend: that is exactly what pins a keep-alive / HTTP/2 client to one Pod.
import net from 'node:net';
import { Resolver } from 'node:dns/promises';

export interface L4ProxyOptions {
  /** Headless Service name, resolved with A queries. */
  name: string;
  /** Pod port. */
  port: number;
  /** DNS server, "host:port". */
  dnsServer: string;
  intervalMs: number;
  listenHost?: string;
}

export interface L4Proxy {
  /** "host:port" the proxy listens on. */
  address: string;
  /** Backends known right now ("ip:port"). */
  backends(): string[];
  /** Connections accepted so far, and the backend each one was sent to. */
  connections(): Array<{ backend: string; at: number }>;
  close(): Promise<void>;
}

export async function startL4Proxy(opts: L4ProxyOptions): Promise<L4Proxy> {
  const resolver = new Resolver({ timeout: 1_000, tries: 1 });
  resolver.setServers([opts.dnsServer]);
  let backends: string[] = [];
  const accepted: Array<{ backend: string; at: number }> = [];
  const sockets = new Set<net.Socket>();

  const resolve = async (): Promise<void> => {
    try {
      const ips = await resolver.resolve4(opts.name);
      backends = ips.sort().map((ip) => `${ip}:${opts.port}`);
    } catch {
      // keep the last known set, as kube-proxy keeps its rules when the API is unreachable
    }
  };
  await resolve();
  let stopped = false;
  let timer: NodeJS.Timeout;
  const loop = (): void => {
    timer = setTimeout(() => void resolve().then(() => !stopped && loop()), opts.intervalMs);
    timer.unref();
  };
  loop();

  // No Nagle on either leg: kube-proxy's iptables/IPVS rules forward packets, they add no buffering.
  const server = net.createServer({ noDelay: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (backends.length === 0) {
      client.destroy();
      return;
    }
    const backend = backends[Math.floor(Math.random() * backends.length)]!;
    accepted.push({ backend, at: performance.now() });
    const [host, port] = [backend.slice(0, backend.lastIndexOf(':')), Number(backend.slice(backend.lastIndexOf(':') + 1))];
    const upstream = net.connect({ host, port, noDelay: true });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    const abort = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', abort);
    upstream.on('error', abort);
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(0, opts.listenHost ?? '127.0.0.1', () => resolveListen());
  });
  const a = server.address() as net.AddressInfo;

  return {
    address: `${a.address}:${a.port}`,
    backends: () => [...backends],
    connections: () => [...accepted],
    async close() {
      stopped = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
