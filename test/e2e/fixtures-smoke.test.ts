// Proves the e2e fixtures (echo Pod, Node clients, grpc-web in Chromium) against a gRPC-Web proxy we
// did not write, @grpc-web/proxy, independently of our gateway. If one of these fails, suspect the
// fixture or the environment, not the gateway.
//
// What @grpc-web/proxy 0.1.0 supports, as checked here: unary in binary and text for every client,
// error status with percent-encoded grpc-message, and server streaming in both formats. What it
// does not do, so it is not asserted here: `suppressCorsPreflight` ($httpHeaders query parameter;
// the proxy only accepts gRPC-Web content types, the call fails), and text-mode streams do not
// arrive message by message (it base64-encodes the whole response as one stream, so the tail of
// each frame waits for the next one). It also opens a new HTTP/2 connection per call. The grpc-web
// runtime's binary mode buffers a server stream until the end by design (XHR arraybuffer).
import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import proxy from '@grpc-web/proxy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { payloadPattern, startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { browserStream, browserUnary, launchBrowser, openApp, requireBrowser, servePage } from '../support/browser.js';
import { NODE_CLIENTS, nodeClient } from '../support/clients.js';
import { freePort } from '../support/ports.js';

// Part of the suite, never skipped: without Chromium this file fails with how to install it.
requireBrowser();

let pod: EchoPod;
let proxyServer: Server;
let baseUrl: string;

beforeAll(async () => {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const port = await freePort();
  proxyServer = createServer(proxy({ target: `http://${pod.address}`, origin: '*', headers: ['x-pod'] }));
  await new Promise<void>((resolve) => proxyServer.listen(port, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  proxyServer?.closeAllConnections();
  await new Promise<void>((resolve) => (proxyServer ? proxyServer.close(() => resolve()) : resolve()));
  pod?.forceClose();
});

const payload = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);

describe.each(NODE_CLIENTS)('%s through @grpc-web/proxy', (kind) => {
  it('unary Echo: pod field and payload echoed', async () => {
    const r = await nodeClient(kind, baseUrl).unary({ message: `hello ${kind}`, payload });
    expect(r.status.code).toBe(0);
    expect(r.ok).toBe(true);
    expect(r.response?.message).toBe(`hello ${kind}`);
    expect(r.response?.pod).toBe(pod.address);
    expect([...r.response!.payload]).toEqual([...payload]);
    expect(r.headers['x-pod']).toBe(pod.address);
  });

  it('Pod error code and message arrive', async () => {
    const r = await nodeClient(kind, baseUrl).unary({ statusCode: 9, statusMessage: 'not now' });
    expect(r.ok).toBe(false);
    expect(r.status.code).toBe(9);
    expect(r.status.details).toBe('not now');
  });
});

it.each(NODE_CLIENTS)('%s: 3-message server stream', async (kind) => {
  const r = await nodeClient(kind, baseUrl).stream({ count: 3, payloadSize: 5 });
  expect(r.status.code).toBe(0);
  expect(r.messages.map((m) => m.index)).toEqual([0, 1, 2]);
  expect(r.messages.every((m) => m.pod === pod.address)).toBe(true);
  expect([...r.messages[2]!.payload]).toEqual([...payloadPattern(5)]);
});

it('metadata and -bin metadata echo both ways (connect)', async () => {
  const r = await nodeClient('connect', baseUrl).unary({}, { metadata: { 'x-echo-id': 'abc', 'x-echo-blob-bin': 'AAH/' } });
  expect(r.ok).toBe(true);
  expect(r.headers['x-echo-id']).toBe('abc');
  expect(Buffer.from(r.headers['x-echo-blob-bin']!, 'base64')).toEqual(Buffer.from([0, 1, 255]));
  expect(r.trailers['trailer-x-echo-id']).toBe('abc');
  expect(Buffer.from(r.trailers['trailer-x-echo-blob-bin']!, 'base64')).toEqual(Buffer.from([0, 1, 255]));
});

describe(`grpc-web runtime in Chromium through @grpc-web/proxy`, () => {
  let browser: Browser;
  let page: Page;
  let site: Awaited<ReturnType<typeof servePage>>;

  beforeAll(async () => {
    site = await servePage();
    browser = await launchBrowser();
    page = await openApp(browser, site.url);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it.each(['text', 'binary'] as const)('unary Echo, %s', async (format) => {
    const r = await browserUnary(page, baseUrl, { message: `hi ${format}`, payload: Buffer.from(payload).toString('base64') }, { format });
    expect(r.status.code).toBe(0);
    expect(r.response?.message).toBe(`hi ${format}`);
    expect(r.response?.pod).toBe(pod.address);
    expect(r.response?.payload).toBe(Buffer.from(payload).toString('base64'));
  });

  it.each(['text', 'binary'] as const)('server stream, %s', async (format) => {
    const r = await browserStream(page, baseUrl, { count: 3 }, { format });
    expect(r.status.code).toBe(0);
    expect(r.messages.map((m) => m.index)).toEqual([0, 1, 2]);
  });

  it('error status with a unicode message', async () => {
    const r = await browserUnary(page, baseUrl, { statusCode: 3, statusMessage: 'échec ✓ 失败' }, { format: 'text' });
    expect(r.ok).toBe(false);
    expect(r.status.code).toBe(3);
    expect(r.status.details).toBe('échec ✓ 失败');
    expect(r.headers['x-pod']).toBe(pod.address);
  });
});

