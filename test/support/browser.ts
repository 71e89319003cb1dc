// Headless Chromium (Debian's /usr/bin/chromium driven by playwright-core) running the official
// grpc-web runtime from examples/browser-app, served from its own origin so CORS is real.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BrowserCallOptions, BrowserResult, JsonEcho, JsonEchoRequest, JsonStreamRequest } from '../../examples/browser-app/app.js';
import type { CallResult, EchoClient, EchoMsg } from './clients.js';

export type { BrowserCallOptions, BrowserResult, JsonEcho, JsonEchoRequest, JsonStreamRequest } from '../../examples/browser-app/app.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP_DIR = join(ROOT, 'examples', 'browser-app');

/**
 * The browser tests are part of the suite, never skipped: without Chromium the test files that
 * need it fail at once with this message (.ci/run installs it; locally: apt-get install chromium).
 */
export function requireBrowser(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: the browser tests need Debian's chromium (apt-get install chromium, as .ci/run does; or set CHROMIUM_PATH)`);
  }
}

/** `extraArgs`: e.g. --ignore-certificate-errors-spki-list=<base64 SHA-256 of a test leaf's SPKI>. */
export function launchBrowser(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      ...extraArgs,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let built = false;
/** Bundles examples/browser-app/app.ts with esbuild (once per process). */
export function buildBrowserApp(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-browser-app.mjs')], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.css': 'text/css',
};

/** Serves examples/browser-app on 127.0.0.1:<free port>, a different origin from any gateway. */
export async function servePage(): Promise<{ url: string; origin: string; close(): Promise<void> }> {
  buildBrowserApp();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(APP_DIR, path === '/' ? 'index.html' : path));
    if (!file.startsWith(APP_DIR + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const origin = `http://127.0.0.1:${addr.port}`;
  return {
    url: `${origin}/`,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens the page and waits for window.grpcWebTest. */
export async function openApp(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { grpcWebTest?: { ready?: boolean } }).grpcWebTest?.ready === true);
  return page;
}

/** Unary Echo through the official grpc-web runtime inside the page. */
export function browserUnary(page: Page, baseUrl: string, req: JsonEchoRequest, opts: BrowserCallOptions = {}): Promise<BrowserResult> {
  return page.evaluate(([b, r, o]) => window.grpcWebTest.unary(b, r, o), [baseUrl, req, opts] as const);
}

/** ServerStream through the official grpc-web runtime inside the page. */
export function browserStream(page: Page, baseUrl: string, req: JsonStreamRequest, opts: BrowserCallOptions = {}): Promise<BrowserResult> {
  return page.evaluate(([b, r, o]) => window.grpcWebTest.stream(b, r, o), [baseUrl, req, opts] as const);
}

function fromJson(m: JsonEcho): EchoMsg {
  return { message: m.message, payload: new Uint8Array(Buffer.from(m.payload, 'base64')), pod: m.pod, index: m.index };
}

function toCallResult(r: BrowserResult): CallResult {
  return {
    ok: r.ok,
    response: r.response ? fromJson(r.response) : undefined,
    messages: r.messages.map(fromJson),
    arrivals: r.arrivals,
    headers: r.headers,
    trailers: r.trailers,
    status: { code: r.status.code, details: r.status.details },
  };
}

/**
 * The page's grpc-web runtime behind the same interface as the Node clients (test/support/clients.ts).
 * `timeoutMs` becomes the runtime's `deadline`; `signal`/`onMessage` are not available across the
 * page boundary: use `browserStream(..., { cancelAfter })` to cancel from the browser.
 */
export function browserClient(
  page: Page,
  baseUrl: string,
  format: 'text' | 'binary',
  extra: Pick<BrowserCallOptions, 'suppressCorsPreflight'> = {},
): EchoClient {
  return {
    kind: `browser-${format}${extra.suppressCorsPreflight ? '-nopreflight' : ''}`,
    async unary(req, opts = {}) {
      const { payload, ...rest } = req;
      const r = await browserUnary(
        page,
        baseUrl,
        { ...rest, ...(payload ? { payload: Buffer.from(payload).toString('base64') } : {}) },
        { format, metadata: opts.metadata, deadlineMs: opts.timeoutMs, ...extra },
      );
      return toCallResult(r);
    },
    async stream(req, opts = {}) {
      const r = await browserStream(page, baseUrl, req, { format, metadata: opts.metadata, deadlineMs: opts.timeoutMs, ...extra });
      return toCallResult(r);
    },
  };
}
