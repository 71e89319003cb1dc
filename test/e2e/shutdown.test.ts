// Graceful shutdown with Kubernetes semantics, on the real CLI process: SIGTERM turns /readyz
// 503 at once, calls keep being served for --shutdown-delay, then in-flight calls and streams
// finish (up to --drain-timeout), and the process exits 0. Under load, no call is lost.
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { nodeClient } from '../support/clients.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';

let pod: EchoPod | null = null;
let gateway: GatewayProcess | null = null;
afterEach(async () => {
  gateway?.kill('SIGKILL');
  await pod?.close();
  pod = null;
  gateway = null;
});

async function setUp(extra: string[]) {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const [http, admin] = [await freePort(), await freePort()];
  gateway = spawnGateway([
    '--listen', `127.0.0.1:${http}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', pod.address,
    '--log-level', 'warn',
    ...extra,
  ]);
  const readyz = `http://127.0.0.1:${admin}/readyz`;
  await waitForStatus(readyz, 200);
  return { baseUrl: `http://127.0.0.1:${http}`, readyz };
}

describe('graceful shutdown (SIGTERM)', () => {
  it('loses no call under load: readiness drops at once, serving continues through the delay, streams finish, exit 0', async () => {
    const { baseUrl, readyz } = await setUp(['--shutdown-delay', '1500ms', '--drain-timeout', '10s']);
    const client = nodeClient('connect', baseUrl);
    const failures: string[] = [];
    let ok = 0;
    let sending = true;
    // Eight callers in a loop, each call taking ~50 ms at the Pod; bounded by `sending` and a count.
    const loops = Array.from({ length: 8 }, async () => {
      for (let i = 0; sending && i < 2000; i++) {
        const r = await client.unary({ message: 'x', delayMs: 50 });
        if (r.ok) ok++;
        else failures.push(`${r.status.code} ${r.status.details}`);
      }
    });
    // A stream that outlives the shutdown delay: 12 messages 200 ms apart.
    const stream = client.stream({ count: 12, intervalMs: 200 });
    await new Promise((r) => setTimeout(r, 300));

    const signalled = Date.now();
    gateway!.kill('SIGTERM');
    await waitForStatus(readyz, 503, 1000);
    expect(Date.now() - signalled).toBeLessThan(500);
    // Like a load balancer that takes a moment to see the endpoint gone, well within the delay.
    await new Promise((r) => setTimeout(r, 700));
    const servedDuringDelay = ok;
    sending = false;
    await Promise.all(loops);

    const s = await stream;
    expect(s.status.code).toBe(0);
    expect(s.messages).toHaveLength(12);
    const { code } = await gateway!.exited;
    expect(code).toBe(0);
    expect(failures).toEqual([]);
    expect(servedDuringDelay).toBeGreaterThan(50);
    expect(Date.now() - signalled).toBeGreaterThan(1500);
    // ...and it is over when the stream is, not at the drain timeout: the callers' keep-alive
    // connections, idle once their last call ends, are closed during the drain.
    expect(Date.now() - signalled).toBeLessThan(8000);
  });

  it('cuts streams still running at the drain timeout with a gRPC status, not a truncated body', async () => {
    const { baseUrl } = await setUp(['--shutdown-delay', '0s', '--drain-timeout', '500ms']);
    const client = nodeClient('pbts-text', baseUrl);
    const stream = client.stream({ count: 100, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 300));
    gateway!.kill('SIGTERM');
    const s = await stream;
    expect(s.messages.length).toBeGreaterThan(0);
    expect(s.messages.length).toBeLessThan(100);
    expect(s.status.code).toBe(14); // UNAVAILABLE: "gateway is shutting down"
    expect((await gateway!.exited).code).toBe(0);
  });

  it('exits at once on a second signal', async () => {
    const { baseUrl } = await setUp(['--shutdown-delay', '20s']);
    const client = nodeClient('connect', baseUrl);
    void client.stream({ count: 100, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 200));
    gateway!.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const second = Date.now();
    gateway!.kill('SIGTERM');
    const { code } = await gateway!.exited;
    expect(code).toBe(1);
    expect(Date.now() - second).toBeLessThan(1000);
  });
});
