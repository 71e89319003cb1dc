// Issue 9 §3 and §4 through a real gateway in front of a real grpc-js Pod that records the metadata
// it receives and answers with the metadata a test chooses: what reaches the Pod (credentials,
// browser-owned and forwarding headers) and what reaches the browser (the headers the gateway owns).
// Requests are raw HTTP/1.1 (node:http) where the exact headers are the point, the official grpc-web
// runtime in headless Chromium where a browser's own behaviour is.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { browserUnary, launchBrowser, requireBrowser, servePage } from '../support/browser.js';
import { nodeClient } from '../support/clients.js';
import { startMetadataPod, type MetadataPod } from '../support/metadata-pod.js';
import { testGatewayEnv } from '../support/upstream-options.js';

// Part of the suite, never skipped: without Chromium this file fails with how to install it.
requireBrowser();

const ECHO_PATH = '/echo.v1.EchoService/Echo';
/** EchoRequest { message = "hi" } as one gRPC-Web frame. */
const ECHO_FRAME = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]);
const GRPC_WEB = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
const FOREIGN = 'https://evil.example';
const APP = 'https://app.example.com';

let pod: MetadataPod;
const gateways: Gateway[] = [];

beforeAll(async () => {
  pod = await startMetadataPod('127.0.0.2');
});
afterAll(async () => {
  await pod.close();
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  pod.received.length = 0;
  pod.answer = {};
});

async function gateway(...flags: string[]): Promise<Gateway> {
  const loaded = loadConfig(['--listen', '127.0.0.1:0', '--admin', 'off', '--upstream', pod.address, ...flags], testGatewayEnv());
  if (!('config' in loaded)) throw new Error('loadConfig returned no config');
  const g = await startGateway(loaded.config, { logger: false });
  gateways.push(g);
  const deadline = Date.now() + 10_000;
  while (!g.pools[0]!.isReady()) {
    if (Date.now() > deadline) throw new Error('the gateway never had a ready Pod');
    await new Promise((r) => setTimeout(r, 10));
  }
  return g;
}

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One POST with exactly these headers (node:http adds Host and Content-Length only). */
function post(url: string, headers: Record<string, string>, body: Buffer = ECHO_FRAME): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What the official client's suppressCorsPreflight sends: the headers in the query, none of its own. */
function httpHeadersUrl(base: string, headers: string): string {
  return `${base}${ECHO_PATH}?$httpHeaders=${encodeURIComponent(headers)}`;
}
const PARAM = 'content-type:application/grpc-web+proto\r\nx-grpc-web:1\r\nx-user-agent:grpc-web-javascript/0.1\r\n';

/** The trailer frame of a binary gRPC-Web body: lower-cased name → values. */
function trailerOf(body: Buffer): Record<string, string[]> {
  let at = 0;
  while (at + 5 <= body.length) {
    const flags = body[at]!;
    const length = body.readUInt32BE(at + 1);
    if (flags & 0x80) {
      const out: Record<string, string[]> = {};
      for (const line of body.subarray(at + 5, at + 5 + length).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        (out[line.slice(0, colon).trim()] ??= []).push(line.slice(colon + 1).trim());
      }
      return out;
    }
    at += 5 + length;
  }
  throw new Error('no trailer frame in the body');
}

function lastReceived(): Record<string, string[]> {
  expect(pod.received.length).toBeGreaterThan(0);
  return pod.received[pod.received.length - 1]!;
}

describe('credentials and CORS (issue 9 §3)', () => {
  it('$httpHeaders from a foreign origin under the default config: the call proceeds, the cookie and the browser-cached authorization do not reach the Pod', async () => {
    const g = await gateway();
    // Exactly what a browser sends for a page on FOREIGN calling fetch/XHR with credentials on this
    // "simple" request: no preflight, so nobody asked the gateway whether credentials are welcome.
    const r = await post(httpHeadersUrl(g.httpUrl, PARAM + 'authorization:Bearer from-script\r\n'), {
      origin: FOREIGN,
      cookie: 'session=s3cr3t',
      authorization: 'Basic aHR0cC1hdXRoLWNhY2hl',
      'sec-fetch-site': 'cross-site',
    });
    expect(r.status).toBe(200);
    expect(trailerOf(r.body)['grpc-status']).toEqual(['0']);
    const seen = lastReceived();
    expect(seen.cookie).toBeUndefined();
    // The script's own token (in $httpHeaders) is legitimate; the browser's cached one is not.
    expect(seen.authorization).toEqual(['Bearer from-script']);
    expect(seen.origin).toEqual([FOREIGN]);
    expect(seen['x-user-agent']).toEqual(['grpc-web-javascript/0.1']);
  });

  it('$httpHeaders cannot add a header the browser owns: a second Origin, Cookie, Host, Sec-*, forwarding headers are dropped', async () => {
    const g = await gateway('--allow-origin', APP, '--allow-credentials');
    const smuggled = [
      'origin:https://app.example.com',
      'cookie:session=forged',
      'host:internal.example',
      'referer:https://app.example.com/',
      'user-agent:forged',
      'sec-fetch-site:same-origin',
      'x-forwarded-for:10.0.0.1',
      'forwarded:for=10.0.0.1',
      'x-real-ip:10.0.0.1',
      'access-control-request-method:POST',
      'proxy-authorization:Basic x',
      'x-tenant:blue',
    ].join('\r\n');
    const r = await post(httpHeadersUrl(g.httpUrl, PARAM + smuggled), { origin: APP });
    expect(r.status).toBe(200);
    expect(trailerOf(r.body)['grpc-status']).toEqual(['0']);
    const seen = lastReceived();
    expect(seen.origin).toEqual([APP]); // the browser's, once
    expect(seen.cookie).toBeUndefined();
    expect(seen.referer).toBeUndefined();
    expect(seen['sec-fetch-site']).toBeUndefined();
    expect(seen['x-real-ip']).toBeUndefined();
    expect(seen.forwarded).toBeUndefined();
    expect(seen['x-forwarded-for']).toEqual(['127.0.0.1']);
    expect(seen['access-control-request-method']).toBeUndefined();
    expect(seen['x-tenant']).toEqual(['blue']); // ordinary metadata still rides along
  });

  it('a preflighted-path call from a foreign origin carrying a cookie, --allow-credentials off: the cookie is withheld', async () => {
    const g = await gateway();
    const r = await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, origin: FOREIGN, cookie: 'session=s3cr3t', authorization: 'Bearer t' });
    expect(r.status).toBe(200);
    const seen = lastReceived();
    expect(seen.cookie).toBeUndefined();
    // Set by a script, allowed by the preflight: a browser adds no cached credentials unless the
    // preflight allowed credentials, which it never does without --allow-credentials.
    expect(seen.authorization).toEqual(['Bearer t']);
  });

  it('forwards cookies of calls that are no cross-origin browser call: no Origin (curl, servers), or same origin', async () => {
    const g = await gateway();
    await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, cookie: 'session=curl' });
    expect(lastReceived().cookie).toEqual(['session=curl']);
    const host = new URL(g.httpUrl).host;
    // Older browsers: no Sec-Fetch-Site, Origin names the gateway's own host.
    await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: `http://${host}`, cookie: 'session=same' });
    expect(lastReceived().cookie).toEqual(['session=same']);
    // Current browsers say it themselves (TLS terminated in front: the scheme differs, the host not).
    await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: 'https://app.example.com', 'sec-fetch-site': 'same-origin', cookie: 'session=sfs' });
    expect(lastReceived().cookie).toEqual(['session=sfs']);
    // Sec-Fetch-Site wins over a matching Host: a same-site page on another origin is cross-origin.
    await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: `http://${host}`, 'sec-fetch-site': 'same-site', cookie: 'session=site' });
    expect(lastReceived().cookie).toBeUndefined();
  });

  it('--allow-credentials with the origin listed (exact or /regex/) forwards the cookie; any other origin\'s is withheld', async () => {
    const g = await gateway('--allow-origin', APP, '--allow-origin', '/https:\\/\\/[a-z]+\\.preview\\.example\\.com/', '--allow-credentials');
    const r = await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: APP, cookie: 'session=app', 'sec-fetch-site': 'same-site' });
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(lastReceived().cookie).toEqual(['session=app']);
    await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: 'https://pr.preview.example.com', cookie: 'session=preview' });
    expect(lastReceived().cookie).toEqual(['session=preview']);
    // A preflighted call from an origin that is not listed (a browser would not have sent it).
    await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, origin: FOREIGN, cookie: 'session=foreign' });
    expect(lastReceived().cookie).toBeUndefined();
  });

  it('listed origins without --allow-credentials: cookies are withheld even from a listed origin', async () => {
    const g = await gateway('--allow-origin', APP);
    await post(httpHeadersUrl(g.httpUrl, PARAM), { origin: APP, cookie: 'session=app' });
    expect(lastReceived().cookie).toBeUndefined();
  });
});

describe('in Chromium, the official grpc-web runtime with suppressCorsPreflight and withCredentials', () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  let site: Awaited<ReturnType<typeof servePage>> | undefined;

  beforeAll(async () => {
    site = await servePage();
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(site.url);
    await page.waitForFunction(() => (window as unknown as { grpcWebTest?: { ready?: boolean } }).grpcWebTest?.ready === true);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  async function browserCall(g: Gateway): Promise<{ ok: boolean; cookie: string[] | undefined }> {
    // A cookie the user's browser holds for the gateway's host. The page is on another port of the
    // same host: another origin, yet the same site, so a credentialed request carries the cookie.
    await context!.addCookies([{ name: 'session', value: 's3cr3t', url: g.httpUrl }]);
    const before = pod.received.length;
    const r = await browserUnary(page!, g.httpUrl, { message: 'hi' }, { format: 'text', suppressCorsPreflight: true, withCredentials: true });
    // The Pod ran the call whatever the browser then let the script see.
    const deadline = Date.now() + 5_000;
    while (pod.received.length === before && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect(pod.received.length).toBe(before + 1);
    return { ok: r.ok, cookie: lastReceived().cookie };
  }

  it('default config (--allow-origin *): the call reaches the Pod without the cookie', async () => {
    const g = await gateway();
    const { ok, cookie } = await browserCall(g);
    expect(cookie).toBeUndefined();
    // And the browser hides the answer: a credentialed response may not carry "*".
    expect(ok).toBe(false);
  });

  it('--allow-origin <the page> --allow-credentials: the cookie reaches the Pod and the page reads the answer', async () => {
    const g = await gateway('--allow-origin', site!.origin, '--allow-credentials');
    const { ok, cookie } = await browserCall(g);
    expect(cookie).toEqual(['session=s3cr3t']);
    expect(ok).toBe(true);
  });
});

describe('headers the gateway owns (issue 9 §4)', () => {
  const POD_OWNED = {
    'access-control-allow-origin': FOREIGN,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, PUT',
    'access-control-expose-headers': 'x-secret',
    vary: 'accept-language',
  };
  const POD_OWN = { 'set-cookie': 'pod=1; Path=/', 'strict-transport-security': 'max-age=60', 'x-custom': 'kept' };

  function expectGatewayWins(headers: IncomingHttpHeaders, allowOrigin: string, vary: string | undefined): void {
    expect(headers['access-control-allow-origin']).toBe(allowOrigin);
    expect(headers['access-control-allow-methods']).toBeUndefined(); // only preflights answer it
    expect(headers['content-type']).toBe('application/grpc-web+proto');
    expect(headers.vary).toBe(vary);
    const exposed = (headers['access-control-expose-headers'] ?? '').split(',');
    expect(exposed).not.toContain('x-secret');
    expect(exposed).not.toContain('access-control-allow-origin');
    expect(exposed).toContain('x-custom');
    expect(headers['set-cookie']).toEqual(['pod=1; Path=/']);
    expect(headers['strict-transport-security']).toBe('max-age=60');
    expect(headers['x-custom']).toBe('kept');
  }

  it('initial metadata: a Pod cannot set CORS headers or replace Vary (default --allow-origin *)', async () => {
    const g = await gateway();
    pod.answer = { initial: { ...POD_OWNED, ...POD_OWN } };
    const r = await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, origin: APP });
    expect(r.status).toBe(200);
    expectGatewayWins(r.headers, '*', 'accept-language');
    expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    expect(trailerOf(r.body)['grpc-status']).toEqual(['0']);
  });

  it('initial and trailing metadata with listed origins: the answer is for this Origin and varies on it', async () => {
    const g = await gateway('--allow-origin', APP);
    pod.answer = { initial: { ...POD_OWNED, ...POD_OWN }, trailing: { ...POD_OWNED, 'x-trailing': 'kept' } };
    const r = await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, origin: APP });
    expectGatewayWins(r.headers, APP, 'Origin, accept-language');
    expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    // The trailer frame carries the Pod's metadata as the gateway would put it in headers.
    const trailer = trailerOf(r.body);
    expect(trailer['grpc-status']).toEqual(['0']);
    expect(trailer['x-trailing']).toEqual(['kept']);
    for (const name of Object.keys(POD_OWNED)) expect(trailer[name]).toBeUndefined();
  });

  it('trailers-only: the status headers carry the Pod\'s metadata under the same rules', async () => {
    const g = await gateway('--allow-origin', APP);
    pod.answer = { failWith: 9, trailing: { ...POD_OWNED, ...POD_OWN } };
    const r = await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, origin: APP });
    expect(r.headers['grpc-status']).toBe('9');
    expect(r.body.length).toBe(0);
    expectGatewayWins(r.headers, APP, 'Origin, accept-language');
  });

  it('a real client still gets the Pod\'s own metadata', async () => {
    const g = await gateway();
    pod.answer = { initial: { 'x-custom': 'kept', ...POD_OWNED }, trailing: { 'x-trailing': 'kept' } };
    const r = await nodeClient('connect', g.httpUrl).unary({ message: 'hi' });
    expect(r.ok).toBe(true);
    expect(r.headers['x-custom']).toBe('kept');
    expect(r.headers['access-control-allow-origin']).toBe('*'); // the gateway's, not the Pod's
    expect(r.trailers['x-trailing']).toBe('kept');
  });
});

describe('x-forwarded-* and the client address (issue 9 §4)', () => {
  const CLAIMS = {
    ...GRPC_WEB,
    'x-forwarded-for': '198.51.100.1, 203.0.113.7',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example.com',
    forwarded: 'for=198.51.100.1',
    'x-real-ip': '198.51.100.1',
  };

  it('default (--trust-proxy false): the Pod sees the TCP peer, never what the client claims', async () => {
    const g = await gateway();
    await post(`${g.httpUrl}${ECHO_PATH}`, CLAIMS);
    const seen = lastReceived();
    expect(seen['x-forwarded-for']).toEqual(['127.0.0.1']);
    expect(seen['x-forwarded-proto']).toEqual(['http']);
    expect(seen['x-forwarded-host']).toBeUndefined();
    expect(seen.forwarded).toBeUndefined();
    expect(seen['x-real-ip']).toBeUndefined();
  });

  it('--trust-proxy CIDR: the chain up to the first untrusted address, client first; the proxy\'s other headers pass', async () => {
    const g = await gateway('--trust-proxy', '127.0.0.1/32');
    await post(`${g.httpUrl}${ECHO_PATH}`, CLAIMS);
    const seen = lastReceived();
    // 203.0.113.7 is what the trusted peer saw; 198.51.100.1 is 203.0.113.7's claim, not vouched for.
    expect(seen['x-forwarded-for']).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(seen['x-forwarded-proto']).toEqual(['https']);
    expect(seen['x-forwarded-host']).toEqual(['app.example.com']);
    expect(seen.forwarded).toEqual(['for=198.51.100.1']);
  });

  it('--trust-proxy true trusts the whole chain; --trust-proxy 1 the nearest hop; an untrusted peer nothing', async () => {
    const all = await gateway('--trust-proxy', 'true');
    await post(`${all.httpUrl}${ECHO_PATH}`, CLAIMS);
    expect(lastReceived()['x-forwarded-for']).toEqual(['198.51.100.1, 203.0.113.7, 127.0.0.1']);
    const one = await gateway('--trust-proxy', '1');
    await post(`${one.httpUrl}${ECHO_PATH}`, CLAIMS);
    expect(lastReceived()['x-forwarded-for']).toEqual(['203.0.113.7, 127.0.0.1']);
    const other = await gateway('--trust-proxy', '10.0.0.0/8');
    await post(`${other.httpUrl}${ECHO_PATH}`, CLAIMS);
    expect(lastReceived()['x-forwarded-for']).toEqual(['127.0.0.1']);
    expect(lastReceived()['x-forwarded-proto']).toEqual(['http']);
    expect(lastReceived()['x-forwarded-host']).toBeUndefined();
  });

  it('a trusted proxy passing on garbage: the chain stops at it, the call is served', async () => {
    const g = await gateway('--trust-proxy', 'true');
    const r = await post(`${g.httpUrl}${ECHO_PATH}`, { ...GRPC_WEB, 'x-forwarded-for': 'not-an-ip, 203.0.113.7', 'x-forwarded-proto': 'h t t p' });
    expect(trailerOf(r.body)['grpc-status']).toEqual(['0']);
    expect(lastReceived()['x-forwarded-for']).toEqual(['203.0.113.7, 127.0.0.1']);
    expect(lastReceived()['x-forwarded-proto']).toEqual(['http']);
  });
});
