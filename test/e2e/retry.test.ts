// Retries end to end, with the gateway as users run it (node dist/cli.js) in front of two real
// grpc-js Pods whose Echo handler counts its runs and answers UNAVAILABLE trailers-only (what a
// load-shedding server sends), and a real gRPC-Web client (connect-web).
// The rule under test: a call is never sent twice when the Pod may have run it, unless the user
// declared the method idempotent with --retry-on / --retry-methods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeClient } from '../support/clients.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { UPSTREAM_CLIENTS } from '../support/upstream-options.js';
import { freePort } from '../support/ports.js';
import { startRawPod, type RawPod } from '../support/raw-pod.js';

const UNAVAILABLE = 14;
const CALLS = 20;

let pods: RawPod[] = [];
const gateways: GatewayProcess[] = [];

beforeAll(async () => {
  const port = await freePort('127.0.0.2');
  pods = await Promise.all(
    ['127.0.0.2', '127.0.0.3'].map((host) =>
      startRawPod(host, port, { path: '/echo.v1.EchoService/Echo', failWith: UNAVAILABLE }),
    ),
  );
});

afterAll(async () => {
  for (const g of gateways) g.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.exited));
  await Promise.all(pods.map((p) => p.close()));
});

async function gateway(...flags: string[]): Promise<string> {
  const [listen, admin] = [await freePort(), await freePort()];
  const g = spawnGateway([
    '--listen', `127.0.0.1:${listen}`,
    '--admin', `127.0.0.1:${admin}`,
    '--upstream', pods.map((p) => p.address).join(','),
    '--shutdown-delay', '0',
    '--log-level', 'warn',
    ...flags,
  ]);
  gateways.push(g);
  await waitForStatus(`http://127.0.0.1:${admin}/readyz`, 200, 20_000);
  // Both Pods connected, so that calls alternate between them.
  const end = Date.now() + 10_000;
  for (;;) {
    const view = (await (await fetch(`http://127.0.0.1:${admin}/endpoints`)).json()) as {
      upstreams: Array<{ endpoints: Array<{ inRotation: boolean }> }>;
    };
    if (view.upstreams[0]!.endpoints.filter((e) => e.inRotation).length === 2) break;
    if (Date.now() > end) throw new Error('both Pods never in rotation');
    await new Promise((r) => setTimeout(r, 25));
  }
  return `http://127.0.0.1:${listen}`;
}

const handlerRuns = () => pods.reduce((n, p) => n + p.calls, 0);

async function unavailableCalls(baseUrl: string): Promise<{ runs: number; codes: number[] }> {
  const client = nodeClient('connect', baseUrl);
  const before = handlerRuns();
  const codes: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const r = await client.unary({ message: `charge ${i}` });
    codes.push(r.status.code);
  }
  return { runs: handlerRuns() - before, codes };
}

describe('retries: a call the Pod may have run is never sent twice unless the method is declared idempotent', () => {
  it.each(UPSTREAM_CLIENTS)('by default, a method answering UNAVAILABLE runs exactly once per browser call (%s)', async (upstreamClient) => {
    const url = await gateway('--upstream-client', upstreamClient);
    const { runs, codes } = await unavailableCalls(url);
    expect(codes).toEqual(Array(CALLS).fill(UNAVAILABLE));
    expect(runs).toBe(CALLS);
  });

  it('--retry-on unavailable applies to the --retry-methods only, up to --retry-attempts', async () => {
    const covered = await gateway(
      '--retry-on', 'unavailable',
      '--retry-methods', '/echo.v1.EchoService/Echo',
      '--retry-attempts', '3',
      '--retry-backoff', '1ms',
      '--retry-max-backoff', '2ms',
    );
    const a = await unavailableCalls(covered);
    expect(a.codes).toEqual(Array(CALLS).fill(UNAVAILABLE));
    expect(a.runs).toBe(3 * CALLS); // every Pod answers UNAVAILABLE: three attempts per call

    const other = await gateway('--retry-on', 'unavailable', '--retry-methods', '/echo.v1.EchoService/ServerStream');
    const b = await unavailableCalls(other);
    expect(b.runs).toBe(CALLS);
  });
});
