// The demo's gRPC-Web client: connect-web calling Echo in a loop over ONE keep-alive HTTP/1.1
// connection (an undici Agent limited to one connection) — the seed article's "one reused
// client", which a ClusterIP Service would pin to a single Pod. Each answer names the Pod that
// served it (EchoResponse.pod), so the per-Pod spread is what the client itself observed.
import { createClient, ConnectError } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { Agent, fetch as undiciFetch } from 'undici';
import { EchoService } from '../../test/gen/es/echo_pb.js';

export interface ClientStats {
  ok: number;
  failed: number;
  /** Calls answered per Pod address ("127.0.0.3:50051"), cumulative. */
  perPod: Map<string, number>;
  /** When (ms epoch) each Pod answered its first call. */
  firstCall: Map<string, number>;
  /** The last few failures, "CODE message". */
  errors: string[];
  /** TCP connections the client opened. */
  connections: number;
}

export interface EchoLoop {
  stats: ClientStats;
  /** Finishes the call in flight, then stops and closes the connection. */
  stop(): Promise<void>;
}

export function startEchoLoop(baseUrl: string, opts: { rate: number; timeoutMs?: number }): EchoLoop {
  const agent = new Agent({ connections: 1, pipelining: 1, keepAliveTimeout: 60_000 });
  const stats: ClientStats = { ok: 0, failed: 0, perPod: new Map(), firstCall: new Map(), errors: [], connections: 0 };
  agent.on('connect', () => stats.connections++);
  const transport = createGrpcWebTransport({
    baseUrl,
    useBinaryFormat: true,
    fetch: ((input: string, init?: Record<string, unknown>) =>
      undiciFetch(input, { ...init, dispatcher: agent })) as unknown as typeof globalThis.fetch,
  });
  const client = createClient(EchoService, transport);

  let running = true;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const loop = (async () => {
    const interval = opts.rate > 0 ? 1000 / opts.rate : 0;
    let next = performance.now();
    for (let i = 0; running; i++) {
      try {
        const r = await client.echo({ message: `hello ${i}` }, { timeoutMs: opts.timeoutMs ?? 5000 });
        stats.ok++;
        stats.perPod.set(r.pod, (stats.perPod.get(r.pod) ?? 0) + 1);
        if (!stats.firstCall.has(r.pod)) stats.firstCall.set(r.pod, Date.now());
      } catch (e) {
        stats.failed++;
        const err = ConnectError.from(e);
        stats.errors.push(`${err.code} ${err.rawMessage}`);
        if (stats.errors.length > 5) stats.errors.shift();
        await pause(100); // don't spin on a dead gateway
      }
      if (interval > 0) {
        next += interval;
        const wait = next - performance.now();
        if (wait > 0) await pause(wait);
        else next = performance.now();
      }
    }
  })();

  return {
    stats,
    async stop() {
      running = false;
      wake?.();
      await loop;
      await agent.close();
    },
  };
}
