// The live dashboard (admin "/") in headless Chromium, against a gateway whose upstream is a
// dns:/// target served by the test DNS server: Pods join and leave by changing its records; and a
// k8s:/// target on the API-server stand-in (zones, the API's state).
//
// UPDATE_SCREENSHOT=1 also renders docs/dashboard.png (5 Pods, traffic, one joining, one draining).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHeadlessDns, type HeadlessDns } from '../../examples/headless-dns/server.js';
import { startStandIn } from '../../examples/kube-api/setup.js';
import type { Gateway } from '../../src/gateway.js';
import { launchBrowser, requireBrowser } from '../support/browser.js';
import { freePort, podAddresses } from '../support/ports.js';
import { BROKEN, ECHO, gatewayFrom, grpcWebCall, startEchoPod, waitFor, waitReady, type EchoPod } from '../unit/admin/harness.js';

// Part of the suite, never skipped: without Chromium this file fails with how to install it.
requireBrowser();

const SERVICE = 'echo.test.svc';
const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/dashboard.png');

/** Keeps `concurrency` callers making gRPC-Web calls until stopped. */
function traffic(url: string, concurrency: number, payload: () => Buffer, path: () => string = () => ECHO) {
  let running = true;
  let calls = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      await grpcWebCall(url, path(), payload()).catch(() => {});
      calls++;
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    get calls() {
      return calls;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

interface World {
  dns: HeadlessDns;
  port: number;
  pods: EchoPod[];
  gw: Gateway;
}

/** `n` echo Pods on 127.0.0.2.. sharing one port (a Service port), DNS listing the first `listed`. */
async function world(n: number, listed: number): Promise<World> {
  const dns = await startHeadlessDns({ host: '127.0.0.1', port: 0 });
  const hosts = podAddresses(n);
  let pods: EchoPod[] = [];
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort(hosts[0]);
    try {
      pods = [];
      for (const h of hosts) pods.push(await startEchoPod(h, port));
      break;
    } catch (error) {
      await Promise.all(pods.map((p) => p.close()));
      if (attempt >= 4) throw error;
    }
  }
  dns.setRecords(SERVICE, hosts.slice(0, listed), 1);
  const gw = await gatewayFrom([
    '--upstream',
    `dns:///${SERVICE}:${port}`,
    '--dns-server',
    `${dns.address.host}:${dns.address.port}`,
    '--resolve-interval',
    '200ms',
  ]);
  await waitReady(gw);
  return { dns, port, pods, gw };
}

async function endWorld(w: World | undefined): Promise<void> {
  if (!w) return;
  await w.gw.close();
  await Promise.all(w.pods.map((p) => p.close()));
  await w.dns.close();
}

const row = (page: Page, address: string) => page.locator(`.row[data-address="${address}"]`);

/**
 * How long to wait for the page to show a change: bounds, not measures. The page polls every
 * second; on a machine shared by many test runs, Chromium, the gateway and the Pods can take
 * several times that to get there.
 */
const SHOW_MS = 30_000;

describe('admin dashboard in Chromium', { timeout: 180_000 }, () => {
  let browser: Browser;
  let w: World | undefined;

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await endWorld(w);
    w = undefined;
  });

  it('shows the Pods of a running gateway and follows one joining and one leaving', async () => {
    w = await world(2, 1);
    const [a, b] = w.pods.map((p) => p.address) as [string, string];
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    const load = traffic(w.gw.httpUrl, 4, () => Buffer.from('hi'));
    try {
      const response = await page.goto(`${w.gw.adminUrl}/`);
      expect(response!.status()).toBe(200);
      await expect.poll(() => page.title(), { timeout: SHOW_MS }).toContain('grpc-web-gateway');

      // The first Pod, READY, with its calls counting up.
      await row(page, a).waitFor({ state: 'visible', timeout: SHOW_MS });
      await expect.poll(async () => row(page, a).getAttribute('data-state'), { timeout: SHOW_MS }).toBe('READY');
      await expect.poll(async () => Number((await row(page, a).locator('.num').nth(2).textContent())!.replace(/,/g, '')), { timeout: SHOW_MS }).toBeGreaterThan(0);
      expect(await page.locator(`[data-upstream="dns:///${SERVICE}:${w.port}"]`).count()).toBe(1);
      await expect.poll(async () => Number(await page.locator('#t-rate').textContent()), { timeout: SHOW_MS }).toBeGreaterThan(0);
      expect(await page.locator('#ver').textContent()).toMatch(/^v\d+\.\d+\.\d+/);

      // A second Pod joins: a new, highlighted row that starts taking calls.
      w.dns.setRecords(SERVICE, [a.split(':')[0]!, b.split(':')[0]!], 1);
      await row(page, b).waitFor({ state: 'visible', timeout: SHOW_MS });
      expect(await row(page, b).getAttribute('class')).toContain('new');
      await expect.poll(async () => row(page, b).getAttribute('data-state'), { timeout: SHOW_MS }).toBe('READY');
      await expect
        .poll(async () => Number((await row(page, b).locator('.rate').textContent())!.replace(/,/g, '')), { timeout: SHOW_MS })
        .toBeGreaterThan(0);
      // Both Pods take a share now (round-robin between two), and the bar shows it.
      await expect.poll(async () => Number(await row(page, b).getAttribute('data-share')), { timeout: SHOW_MS }).toBeGreaterThan(0.2);
      expect(parseFloat((await row(page, b).locator('.bar').getAttribute('style'))!.match(/width:\s*([\d.]+)%/)![1]!)).toBeGreaterThan(20);
      expect(await page.locator('#events li.add').count()).toBeGreaterThanOrEqual(1);

      // The first Pod leaves DNS: it fades out, then its row goes.
      w.dns.setRecords(SERVICE, [b.split(':')[0]!], 1);
      await expect.poll(async () => (await row(page, a).getAttribute('class')) ?? '', { timeout: SHOW_MS }).toMatch(/gone|draining/);
      await row(page, a).waitFor({ state: 'detached', timeout: SHOW_MS });
      expect(await page.locator('#events li.del').count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator('.row').count()).toBe(1);
      expect(await page.locator('#live').getAttribute('class')).not.toContain('down');
      expect(errors).toEqual([]);
    } finally {
      await load.stop();
      await page.close();
    }
  });

  it('says so when the gateway stops answering', async () => {
    w = await world(1, 1);
    const page = await browser.newPage();
    try {
      await page.goto(`${w.gw.adminUrl}/`);
      await row(page, w.pods[0]!.address).waitFor({ state: 'visible', timeout: SHOW_MS });
      await w.gw.close();
      await expect.poll(async () => page.locator('#live').getAttribute('class'), { timeout: SHOW_MS }).toContain('down');
      expect(await page.locator('#banner').isVisible()).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('k8s:///: each Pod with its zone, the API facts, and why the Pods are the last known ones while the API refuses (403)', async () => {
    const kube = await startStandIn();
    const pods: EchoPod[] = [];
    const page = await browser.newPage();
    try {
      const hosts = podAddresses(2, 90);
      const port = await freePort(hosts[0]);
      for (const h of hosts) pods.push(await startEchoPod(h, port));
      kube.api.apply({
        name: 'echo-a', namespace: 'shop', service: 'echo', ports: [{ name: 'grpc', port }],
        endpoints: [{ ip: hosts[0]!, ready: true, zone: 'zone-a' }, { ip: hosts[1]!, ready: true, zone: 'zone-b' }],
      });
      const gw = await gatewayFrom(['--upstream', 'k8s:///echo.shop:grpc', '--kubeconfig', kube.kubeconfig, '--prefer-zone', 'zone-a']);
      try {
        await waitReady(gw);
        await page.goto(`${gw.adminUrl}/`);
        for (const [i, zone] of ['zone-a', 'zone-b'].entries()) {
          await row(page, pods[i]!.address).waitFor({ state: 'visible', timeout: SHOW_MS });
          expect(await row(page, pods[i]!.address).locator('.zone').textContent()).toBe(zone);
        }
        const card = page.locator('section.card');
        expect(await card.locator('.tag.k8s').textContent()).toBe('k8s');
        await expect.poll(async () => (await card.locator('.facts').textContent()) ?? '', { timeout: SHOW_MS }).toMatch(/k8s API ok .* ago.*API requests \d+.*prefer zone zone-a/);
        expect(await card.locator('[data-resolver-error]').count()).toBe(0);

        kube.api.setToken(kube.token, 'forbidden');
        kube.api.expireWatches(); // the watch ends; the list that follows is refused
        const error = card.locator('[data-resolver-error]');
        await error.waitFor({ state: 'visible', timeout: SHOW_MS });
        expect(await error.textContent()).toMatch(/^403 Forbidden: .*get, list and watch on endpointslices/);
        expect(await page.locator('.row').count()).toBe(2); // the last known Pods, still shown and in use

        kube.api.setToken(kube.token, 'allowed');
        await error.waitFor({ state: 'detached', timeout: SHOW_MS });
      } finally {
        await gw.close();
      }
    } finally {
      await page.close();
      await Promise.all(pods.map((p) => p.close()));
      await kube.close();
    }
  });

  // Refreshes docs/dashboard.png on request only: a documentation step, not a test.
  if (process.env.UPDATE_SCREENSHOT === '1') it(
    'renders docs/dashboard.png: 5 Pods with traffic, one joining, one draining',
    async () => {
      w = await world(6, 4);
      const hosts = w.pods.map((p) => p.host);
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 2 });
      let n = 0;
      // Mostly quick echoes, some slow ones (so Pods have calls in flight and one can drain), a few errors.
      const quick = traffic(w.gw.httpUrl, 6, () => Buffer.from('hello'), () => (++n % 97 === 0 ? BROKEN : ECHO));
      const slow = traffic(w.gw.httpUrl, 10, () => Buffer.from('sleep:4000'));
      try {
        await page.goto(`${w.gw.adminUrl}/`);
        await row(page, w.pods[3]!.address).waitFor({ state: 'visible' });
        await new Promise((r) => setTimeout(r, 6000));
        // Pod 5 joins ...
        w.dns.setRecords(SERVICE, hosts.slice(0, 5), 1);
        await row(page, w.pods[4]!.address).waitFor({ state: 'visible' });
        await new Promise((r) => setTimeout(r, 2500));
        // ... and pod 2 leaves DNS while it still has slow calls in flight: it drains.
        const burst = Promise.all(Array.from({ length: 30 }, () => grpcWebCall(w!.gw.httpUrl, ECHO, Buffer.from('sleep:5000')).catch(() => {})));
        await waitFor('calls in flight on pod 2', () => w!.gw.pools[0]!.snapshot().endpoints.some((e) => e.address === w!.pods[1]!.address && e.inFlight > 0));
        w.dns.setRecords(SERVICE, [hosts[0]!, ...hosts.slice(2, 6)], 1);
        await expect.poll(async () => row(page, w!.pods[1]!.address).getAttribute('data-state'), { timeout: 5000 }).toBe('DRAINING');
        await new Promise((r) => setTimeout(r, 1200));
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        await burst;
      } finally {
        await quick.stop();
        await slow.stop();
        await page.close();
      }
    },
    60_000,
  );
});
