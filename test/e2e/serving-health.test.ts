// Health on the serving port: GET /healthz and /readyz answer exactly as on the admin port (one
// readiness source: 503 until a Pod is connected, 503 from SIGTERM), GET / answers 200 for the
// default checks of cloud load balancers, and /metrics and /endpoints stay on the admin port.
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { h2cFetch } from '../support/h2c-fetch.js';
import { freePort } from '../support/ports.js';
import { until } from '../support/until.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let pod: EchoPod | null = null;
let gw: Gateway | null = null;
// The gateway first (it holds connections to the Pod), then the Pod.
afterEach(async () => {
  for (const stop of [() => gw?.close(), () => pod?.close()]) await stop();
  [gw, pod] = [null, null];
});

async function start(upstream: string, flags: string[] = []): Promise<Gateway> {
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--upstream', upstream, ...flags], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  gw = await startGateway(result.config, { logger: false });
  return gw;
}

async function get(url: string, fetch: typeof globalThis.fetch = globalThis.fetch): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

describe('health on the serving port', () => {
  it('/readyz is 503 until a Pod is connected, then 200, exactly as on the admin port', async () => {
    const port = await freePort('127.0.0.2');
    const g = await start(`127.0.0.2:${port}`, ['--connect-timeout', '200ms']);
    const serving = await get(`${g.httpUrl}/readyz`);
    const admin = await get(`${g.adminUrl}/readyz`);
    expect(serving.status).toBe(503);
    expect(serving).toEqual(admin);
    expect(JSON.parse(serving.body)).toEqual({ status: 'not ready', reason: `no connected Pod yet for: 127.0.0.2:${port}` });
    expect((await get(`${g.httpUrl}/healthz`)).status).toBe(200);

    pod = await startEchoPod({ host: '127.0.0.2', port });
    let last = serving;
    const end = Date.now() + 10_000;
    while (last.status !== 200 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      last = await get(`${g.httpUrl}/readyz`);
    }
    expect(last).toEqual({ status: 200, body: JSON.stringify({ status: 'ready' }) });
    expect(await get(`${g.adminUrl}/readyz`)).toEqual(last);
  });

  it('/healthz, /readyz and / over HTTP/1.1 and h2c; /metrics and /endpoints only on the admin port', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const g = await start(pod.address);
    await until(() => g.pools[0]!.isReady(), 5_000);
    const h2c = h2cFetch();
    try {
      for (const fetch of [globalThis.fetch, h2c.fetch]) {
        expect(await get(`${g.httpUrl}/healthz`, fetch)).toEqual({ status: 200, body: '{"status":"ok"}' });
        expect(await get(`${g.httpUrl}/readyz`, fetch)).toEqual({ status: 200, body: '{"status":"ready"}' });
        expect(await get(`${g.httpUrl}/`, fetch)).toEqual({ status: 200, body: '{"status":"ok"}' });
        expect((await get(`${g.httpUrl}/metrics`, fetch)).status).toBe(405);
        expect((await get(`${g.httpUrl}/endpoints`, fetch)).status).toBe(405);
      }
    } finally {
      h2c.close();
    }
    expect((await get(`${g.adminUrl}/metrics`)).status).toBe(200);
    // Calls are unaffected by the health routes.
    expect((await nodeClient('connect', g.httpUrl).unary({ message: 'hi' })).ok).toBe(true);
  });

  it('/readyz turns 503 the moment a graceful stop begins, while calls are still served; also with --admin off', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, '--shutdown-delay', '3s'], testGatewayEnv());
    if (!('config' in result)) throw new Error('not a config');
    const g = (gw = await startGateway(result.config, { logger: false }));
    await until(() => g.pools[0]!.isReady(), 5_000);
    expect((await get(`${g.httpUrl}/readyz`)).status).toBe(200);
    const stopping = g.shutdown();
    const during = await get(`${g.httpUrl}/readyz`);
    expect(during.status).toBe(503);
    expect(JSON.parse(during.body)).toEqual({ status: 'not ready', reason: 'shutting down' });
    expect((await get(`${g.httpUrl}/healthz`)).status).toBe(200);
    expect((await nodeClient('connect', g.httpUrl).unary({ message: 'during the delay' })).ok).toBe(true);
    await g.close();
    await stopping;
  });
});
