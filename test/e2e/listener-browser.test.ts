// The official grpc-web client in Chromium, over HTTPS with HTTP/2 (ALPN), from a page on another
// origin (CORS for real). Chromium trusts the test CA's leaf through
// --ignore-certificate-errors-spki-list (its SPKI hash), not by turning certificate checks off:
// a listener presenting any other certificate would fail.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { browserClient, launchBrowser, openApp, requireBrowser, servePage } from '../support/browser.js';
import { expectCallsCarriedBy } from '../support/carried-by.js';
import { makeCa, makeCert } from '../support/tls.js';
import { testGatewayEnv } from '../support/upstream-options.js';

requireBrowser();

let dir: string;
let pod: EchoPod;
let gw: Gateway;
let browser: Browser;
let page: Page;
let site: Awaited<ReturnType<typeof servePage>>;
const logs: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gwg-browser-tls-'));
  const ca = await makeCa(dir);
  const cert = await makeCert(ca, { cn: 'gateway', sans: ['127.0.0.1'] });
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const result = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, '--tls-cert', cert.cert, '--tls-key', cert.key], testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  gw = await startGateway(result.config, { logger: pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) }) });
  site = await servePage();
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${cert.spki}`]);
  page = await openApp(browser, site.url);
}, 60_000);
afterAll(async () => {
  await page?.close();
  await browser?.close();
  await site?.close();
  await gw?.close();
  await pod?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(['text', 'binary'] as const)('grpc-web (%s) in Chromium over HTTPS', (format) => {
  it('unary and a server stream, carried by HTTP/2', async () => {
    await expectCallsCarriedBy(browserClient(page, gw.httpUrl, format), logs, '2.0', `chromium-${format}`);
  });
});

it('without the SPKI of the listener certificate, Chromium refuses the connection (checks stay on)', async () => {
  const untrusting = await launchBrowser();
  try {
    const p = await openApp(untrusting, site.url);
    const r = await browserClient(p, gw.httpUrl, 'text').unary({ message: 'x' });
    expect(r.ok).toBe(false);
    await p.close();
  } finally {
    await untrusting.close();
  }
});
