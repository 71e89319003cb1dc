// `npm run demo` (examples/demo/main.ts) as a user runs it, shortened: a real child process that
// starts Pods, a DNS server, the gateway (dist/cli.js) and a client, scales out at 4 s, rolls the
// Pods from 8 s, and ends by itself at 25 s. While it runs, the browser app and the dashboard it
// prints are fetched (the app from another origin, so the gateway must answer CORS for it). After
// it ends: exit 0, every Pod had traffic, no failed call, and no child process or port left behind.
// With Chromium installed, the browser app's own button is clicked after the scale-out: the official
// grpc-web client's calls spread over the Pods too.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireBrowser, launchBrowser } from '../support/browser.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

const match = (text: string, re: RegExp): string => {
  const m = re.exec(text);
  if (!m) throw new Error(`output has no ${re}:\n${text}`);
  return m[1]!;
};

// Part of the suite, never skipped: without Chromium this file fails with how to install it.
requireBrowser();

/** Clicks "Call Echo" on the demo's browser app page; returns the page's summary line and per-Pod table. */
async function clickCallEcho(appUrl: string, calls: number): Promise<{ summary: string; pods: Record<string, number> }> {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(appUrl);
    await page.fill('#count', String(calls));
    await page.click('#run');
    await page.waitForFunction((n) => (document.getElementById('summary')?.textContent ?? '').includes(`${n} answered`), calls, {
      timeout: 60_000,
    });
    const summary = (await page.textContent('#summary')) ?? '';
    const rows = await page.$$eval('#pods tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')));
    return { summary, pods: Object.fromEntries(rows.map(([pod, n]) => [pod!, Number(n)])) };
  } finally {
    await browser.close();
  }
}

/** The demo as a child process, on free ports; `onOutput` sees its stdout and stderr so far. */
function spawnDemo(args: string[]) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/demo/main.ts', ...args, '--http-port', '0', '--admin-port', '0', '--app-port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  let listener: (out: string, err: string) => void = () => {};
  child.stdout.on('data', (d: Buffer) => listener((out += d.toString()), err));
  child.stderr.on('data', (d: Buffer) => listener(out, (err += d.toString())));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, onOutput: (fn: typeof listener) => void (listener = fn) };
}

describe('npm run demo', () => {
  it(
    'scales out and rolls with every Pod getting traffic, no failed call, and stops everything it started' +
      '; the browser app spreads its calls too',
    async () => {
      const demo = spawnDemo(['--duration', '25s', '--scale-at', '4s', '--roll-at', '8s']);
      const { child, exited } = demo;
      let out = '';
      let err = '';
      demo.onOutput((o, e) => ([out, err] = [o, e]));
      try {
        // Once the header is out, what it points at must work: the app page and its bundle, the
        // gateway's CORS answer to that page's origin, the dashboard.
        // A bound on the start-up (tsx, the Pods, DNS and the gateway on a shared machine), not a measure.
        const deadline = Date.now() + 90_000;
        while (!/\n {2}pids /.test(out)) {
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no header:\n${out}\n${err}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const appUrl = match(out, /browser app (http:\/\/\S+)/);
        const gatewayUrl = match(out, /gRPC-Web {4}(http:\/\/\S+)/);
        const dashboardUrl = match(out, /dashboard {3}(http:\/\/\S+)/);
        expect(new URL(appUrl).searchParams.get('gateway')).toBe(gatewayUrl);
        const page = await fetch(appUrl);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('dist/app.js');
        const bundle = await fetch(new URL('dist/app.js', appUrl));
        expect(bundle.status).toBe(200);
        expect((await bundle.text()).length).toBeGreaterThan(10_000);
        expect((await fetch(new URL('../package.json', appUrl))).status).toBe(404);
        const appOrigin = new URL(appUrl).origin;
        expect(appOrigin).not.toBe(new URL(gatewayUrl).origin);
        const preflight = await fetch(`${gatewayUrl}/echo.v1.EchoService/Echo`, {
          method: 'OPTIONS',
          headers: {
            origin: appOrigin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type,x-grpc-web,x-user-agent',
          },
        });
        expect(preflight.status).toBeLessThan(300);
        expect(['*', appOrigin]).toContain(preflight.headers.get('access-control-allow-origin'));
        const dashboard = await fetch(dashboardUrl);
        expect(dashboard.status).toBe(200);
        expect(dashboard.headers.get('content-type')).toContain('text/html');

        while (!out.includes('every new Pod has traffic')) {
          if (child.exitCode !== null) throw new Error(`the demo ended before the scale-out:\n${out}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const { summary, pods } = await clickCallEcho(appUrl, 40);
        expect(summary).toMatch(/^40 answered, 0 failed/);
        expect(Object.keys(pods).length).toBeGreaterThanOrEqual(4);

        const code = await exited;
        expect(err).toBe('');
        expect(code, out).toBe(0);
      } finally {
        // A test that failed half-way: SIGTERM, so that the demo stops what it started (its
        // children are detached and outlive a SIGKILLed demo); SIGKILL only if it will not.
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const stopped = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(r, 20_000, false))]);
          if (!stopped) child.kill('SIGKILL');
        }
      }

      // The summary: traffic on every new Pod after the scale-out and the roll, nothing failed.
      expect(out).toMatch(/scale-out {6}1 → 5 Pods: every new Pod had traffic \d+\.\d s after it was added to DNS/);
      // How many Pods the roll gets through by the end depends on how fast Pods start (a few
      // seconds each on a loaded machine): at least one, and every one it did counts below.
      const rolled = Number(match(out, /rolling update (\d+) Pod\(s\) replaced one by one; each new one had traffic within \d+\.\d s\n/));
      expect(rolled).toBeGreaterThanOrEqual(1);
      expect(rolled).toBeLessThanOrEqual(5);
      expect(match(out, /\n {2}calls {10}[\d,]+ \([\d,]+\/s\), failed (\d+)/)).toBe('0');
      expect(out).toContain('1 gRPC-Web client, 1 keep-alive connection to the gateway');
      const perPod = out.slice(out.indexOf('per Pod (whole run):')).split('\n').slice(1);
      const podLines = perPod.filter((l) => /^ {4}127\./.test(l));
      expect(podLines).toHaveLength(5 + rolled); // 1 + 4 from the scale-out + the replacements
      for (const line of podLines) {
        // Only a replacement that joined in the run's last second may not have had its turn yet.
        if (/no calls yet \(joined [01]\.\d s before the end\)/.test(line)) continue;
        expect(Number(match(line, /\s([\d,]+) calls/).replace(/,/g, '')), line).toBeGreaterThan(0);
      }
      // Every table row (the gateway's own count) shows 0 failures.
      for (const row of out.split('\n').filter((l) => /^ {2}127\.\S+\s+[\d,]+\s+[\d.]+%/.test(l))) {
        expect(row.trim().split(/\s+/).pop()).toBe('0');
      }
      expect(out).not.toContain('PROBLEMS');
      expect(out).not.toContain('exited unexpectedly');

      // No child process left, no port still bound.
      const pids = match(out, /stopped {8}\d+ child processes \(pids ([\d ]+)\)/).split(' ').map(Number);
      // DNS, gateway, the Pods; plus at most one replacement that was still starting when the
      // run ended (it never joined DNS, so the roll does not count it).
      expect(pids.length).toBeGreaterThanOrEqual(2 + 5 + rolled);
      expect(pids.length).toBeLessThanOrEqual(2 + 5 + rolled + 1);
      expect(out).toContain('still running: none');
      expect(pids.filter(alive)).toEqual([]);
      const ports: Array<[string, number]> = [
        ['127.0.0.1', Number(new URL(match(out, /gRPC-Web {4}(http:\/\/\S+)/)).port)],
        ['127.0.0.1', Number(new URL(match(out, /dashboard {3}(http:\/\/\S+)/)).port)],
        ['127.0.0.1', Number(new URL(match(out, /browser app (http:\/\/\S+)/)).port)],
      ];
      for (const line of podLines) {
        const [host, port] = match(line, /^ {4}(\S+)/).split(':');
        ports.push([host!, Number(port)]);
      }
      for (const [host, port] of ports) expect(await portFree(host, port), `${host}:${port}`).toBe(true);
    },
    // The demo's own 25 s, plus room for its start and stop on a loaded machine.
    180_000,
  );

  it(
    '--discovery k8s: the same experiment with the gateway watching EndpointSlices on the API-server stand-in',
    async () => {
      const demo = spawnDemo(['--discovery', 'k8s', '--duration', '20s', '--scale-at', '4s', '--roll-at', '8s']);
      let out = '';
      let err = '';
      demo.onOutput((o, e) => ([out, err] = [o, e]));
      const code = await demo.exited;
      expect(err).toBe('');
      expect(code, out).toBe(0);
      expect(out).toMatch(/--upstream k8s:\/\/\/echo-headless\.demo:grpc --kubeconfig \S+/);
      expect(out).toMatch(/k8s API {5}https:\/\/127\.0\.0\.1:\d+ \(a stand-in, in this process\)/);
      expect(out).toMatch(/scale-out {6}1 → 5 Pods: every new Pod had traffic \d+\.\d s after it was added to the EndpointSlice/);
      expect(match(out, /\n {2}calls {10}[\d,]+ \([\d,]+\/s\), failed (\d+)/)).toBe('0');
      const rolled = Number(match(out, /rolling update (\d+) Pod\(s\) replaced/));
      expect(rolled).toBeGreaterThanOrEqual(1);
      // The replaced Pod was listed terminating, and the gateway drained it as such.
      expect(out).toMatch(/gateway: 127\.0\.0\.2:\d+ is terminating, draining/);
      expect(out).not.toContain('PROBLEMS');
      expect(out).toContain('still running: none');
      const pids = match(out, /stopped {8}\d+ child processes \(pids ([\d ]+)\)/).split(' ').map(Number);
      expect(pids.filter(alive)).toEqual([]);
    },
    120_000,
  );
});
