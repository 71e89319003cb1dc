// What one request may cost, and what all of them together may: exactly one request message per
// call, calls in flight, request bytes buffered and client connections bounded per process, refusals
// logged once per burst and counted in /metrics under fixed labels. Real grpc-js Pods (the example
// echo Pod, which counts its calls), real clients (connect-web, raw HTTP/1.1 over node:net and
// node:http), and for memory the gateway as users run it, in its own process.
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';
import { parseExposition, waitFor, type Exposition } from '../unit/admin/harness.js';
import { testGatewayEnv } from '../support/upstream-options.js';

const ECHO_PATH = '/echo.v1.EchoService/Echo';
/** EchoRequest { message = "hi" } as one gRPC-Web frame. */
const ECHO_FRAME = Buffer.from([0, 0, 0, 0, 4, 0x0a, 0x02, 0x68, 0x69]);

let pod: EchoPod | null = null;
let gw: Gateway | null = null;
let proc: GatewayProcess | null = null;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await gw?.close();
  if (proc) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
  await pod?.close();
  gw = null;
  pod = null;
  proc = null;
});

/** A gateway in this process in front of one echo Pod, its log lines collected. */
async function gateway(flags: string[]): Promise<{ g: Gateway; pod: EchoPod; logs: string[] }> {
  pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
  const args = ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--shutdown-delay', '0s', '--upstream', pod.address, ...flags];
  const result = loadConfig(args, testGatewayEnv());
  if (!('config' in result)) throw new Error('not a config');
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  gw = await startGateway(result.config, { logger });
  const g = gw;
  await waitFor('the Pod READY', () => g.pools[0]!.isReady());
  return { g, pod, logs };
}

async function scrape(g: Gateway): Promise<{ text: string; x: Exposition }> {
  const text = await (await fetch(`${g.adminUrl}/metrics`)).text();
  return { text, x: parseExposition(text) };
}

function frame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

const keepAlive = new Agent({ keepAlive: true });

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * POST `body` with node:http and resolve with the answer as soon as it is complete, even when
 * the gateway answered before reading the whole body and then closed the connection (the rest
 * of our upload then fails with EPIPE/ECONNRESET, which is expected and ignored).
 */
function post(url: string, body: Buffer, contentType = 'application/grpc-web+proto'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest(
      url,
      { method: 'POST', agent: keepAlive, headers: { 'content-type': contentType, 'x-grpc-web': '1', 'content-length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          answered = true;
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', (e) => (answered ? undefined : reject(e)));
      },
    );
    req.on('error', (e) => (answered ? undefined : reject(e)));
    req.end(body);
  });
}

/** A TCP connection to the gateway's listener. */
function open(g: Gateway): Promise<Socket> {
  const { hostname, port } = new URL(g.httpUrl);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.once('error', reject);
    sockets.push(s);
  });
}

/** A preflight on `s` (keep-alive); resolves with the status line once the whole answer is in. */
function preflight(s: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n\r\n')) {
        s.off('data', onData);
        s.off('close', onClose);
        resolve(data.split('\r\n', 1)[0]!);
      }
    };
    const onClose = () => reject(new Error(`connection closed; got ${JSON.stringify(data)}`));
    s.on('data', onData);
    s.once('close', onClose);
    s.write(
      `OPTIONS ${ECHO_PATH} HTTP/1.1\r\nHost: gw\r\nOrigin: https://app.example.com\r\n` +
        'Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\r\n',
    );
  });
}

/** Connect and ask; resolves with what came back before the gateway closed the connection. */
function refusedConnection(g: Gateway): Promise<string> {
  const { hostname, port } = new URL(g.httpUrl);
  return new Promise((resolve) => {
    let data = '';
    const s = connect(Number(port), hostname, () => {
      s.write(`OPTIONS ${ECHO_PATH} HTTP/1.1\r\nHost: gw\r\n\r\n`);
    });
    sockets.push(s);
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => {});
    s.once('close', () => resolve(data));
  });
}

/**
 * POST `body` over a raw socket and resolve with the status and headers of the answer. The
 * gateway answers before reading the whole body and closes the connection, so the rest of our
 * upload fails (EPIPE/ECONNRESET): what matters is what arrived before.
 */
function postRaw(host: string, port: number, path: string, body: Buffer): Promise<{ head: string; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = connect(port, host, () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${body.length}\r\n\r\n`);
      s.write(body);
    });
    sockets.push(s);
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => {});
    s.once('close', () => {
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return reject(new Error(`no answer before the connection closed: ${JSON.stringify(data)}`));
      const [head, ...lines] = data.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      resolve({ head: head!, headers });
    });
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error('no VmRSS');
  return Number(m[1]) / 1024;
}

describe('exactly one request message', () => {
  it('1.1 million empty frames in one body: refused at once, the body left unread, small RSS growth, the next call fine', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const [port, adminPort] = [await freePort(), await freePort()];
    proc = spawnGateway(['--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--upstream', pod.address]);
    await waitForStatus(`http://127.0.0.1:${adminPort}/readyz`, 200);
    const url = `http://127.0.0.1:${port}${ECHO_PATH}`;
    // Warm up (first-call allocations are not what is measured), then let the heap settle.
    expect((await post(url, ECHO_FRAME)).status).toBe(200);
    const callsBefore = pod.calls();
    const before = rssMiB(proc.pid);

    const body = Buffer.alloc(5 * 1_100_000); // 1.1 million frames: flags 0, length 0
    const answer = await postRaw('127.0.0.1', port, ECHO_PATH, body);
    const grown = rssMiB(proc.pid) - before;

    expect(answer.head).toBe('HTTP/1.1 200 OK');
    expect(answer.headers['grpc-status']).toBe('12'); // UNIMPLEMENTED, as grpc-js answers a second message
    expect(decodeURIComponent(answer.headers['grpc-message'] as string)).toMatch(/^received a second request message for \/echo\.v1\.EchoService\/Echo/);
    expect(answer.headers.connection).toBe('close');
    expect(pod.calls()).toBe(callsBefore); // nothing went upstream
    expect(grown).toBeLessThan(40);
    // Refused at once: the refusal is logged once, with how little of the 5.5 MB body had been read.
    await waitFor('the refusal log line', () => proc!.output().includes('second request message'));
    const line = JSON.parse(proc.output().split('\n').find((l) => l.includes('second request message'))!) as { bytesIn: number; reason: string };
    expect(line.reason).toBe('not_one_message');
    expect(line.bytesIn).toBeLessThan(1024 * 1024);

    const next = await nodeClient('connect', `http://127.0.0.1:${port}`).unary({ message: 'after' });
    expect(next.ok).toBe(true);
    expect(next.response!.message).toBe('after');
  });

  it('two messages: UNIMPLEMENTED, and the Pod is never called (binary and text)', async () => {
    const { g, pod } = await gateway([]);
    const two = Buffer.concat([ECHO_FRAME, ECHO_FRAME]);
    const binary = await post(g.httpUrl + ECHO_PATH, two);
    expect(binary.status).toBe(200);
    expect(binary.headers['grpc-status']).toBe('12');
    expect(decodeURIComponent(binary.headers['grpc-message'] as string)).toBe(
      'received a second request message for /echo.v1.EchoService/Echo: a gRPC-Web call carries exactly one',
    );
    // text mode: each message base64-padded on its own, as the official client sends chunks
    const text = Buffer.from(ECHO_FRAME.toString('base64') + ECHO_FRAME.toString('base64'));
    const textAnswer = await post(g.httpUrl + ECHO_PATH, text, 'application/grpc-web-text');
    expect(textAnswer.headers['grpc-status']).toBe('12');
    expect(textAnswer.headers['content-type']).toMatch(/^application\/grpc-web-text/);
    expect(pod.calls()).toBe(0);
    // one message is fine
    const one = await post(g.httpUrl + ECHO_PATH, ECHO_FRAME);
    expect(one.headers['grpc-status']).toBeUndefined(); // status in the trailer frame
    expect(pod.calls()).toBe(1);
    const { x } = await scrape(g);
    expect(x.sum('grpcweb_refused_total', { reason: 'not_one_message' })).toBe(2);
  });

  it('zero messages: UNIMPLEMENTED, the Pod never called, the connection kept', async () => {
    const { g, pod } = await gateway([]);
    const answer = await post(g.httpUrl + ECHO_PATH, Buffer.alloc(0));
    expect(answer.status).toBe(200);
    expect(answer.headers['grpc-status']).toBe('12');
    expect(decodeURIComponent(answer.headers['grpc-message'] as string)).toBe('received no request message for /echo.v1.EchoService/Echo');
    // the whole (empty) body was read: nothing is left in the connection
    expect(answer.headers.connection).not.toBe('close');
    expect(pod.calls()).toBe(0);
  });
});

describe('--max-concurrent-calls', () => {
  it('N streams held open: the N+1th call is RESOURCE_EXHAUSTED; once one ends, a new call works', async () => {
    const N = 3;
    const { g, pod } = await gateway(['--max-concurrent-calls', String(N)]);
    const client = nodeClient('connect', g.httpUrl);
    const aborts = Array.from({ length: N }, () => new AbortController());
    const started = aborts.map(() => false);
    const streams = aborts.map((a, i) =>
      client.stream({ count: 100_000, intervalMs: 50 }, { signal: a.signal, onMessage: () => (started[i] = true) }),
    );
    await waitFor('every stream to have a message', () => started.every(Boolean));

    const refused = await client.unary({ message: 'one too many' });
    expect(refused.ok).toBe(false);
    expect(refused.status.code).toBe(8);
    expect(refused.status.details).toBe('the gateway has too many calls in flight; retry later');
    const refusedStream = await client.stream({ count: 1 });
    expect(refusedStream.status.code).toBe(8);
    expect(pod.calls()).toBe(N);

    aborts[0]!.abort();
    expect((await streams[0]!).ok).toBe(false);
    // The slot is given back when the gateway sees the stream end (the client's close reaching it).
    let next = refused;
    await waitFor('a call to be admitted again', async () => (next = await client.unary({ message: 'after' })).ok);
    expect(next.response!.message).toBe('after');

    const { x } = await scrape(g);
    expect(x.sum('grpcweb_refused_total', { reason: 'max_concurrent_calls' })).toBeGreaterThanOrEqual(2);
    for (const a of aborts) a.abort();
    await Promise.all(streams);
  });

  it('a burst of 100 refusals is logged once, not once per call', async () => {
    const { g, logs } = await gateway(['--max-concurrent-calls', '1']);
    const client = nodeClient('connect', g.httpUrl);
    const abort = new AbortController();
    let started = false;
    const stream = client.stream({ count: 100_000, intervalMs: 50 }, { signal: abort.signal, onMessage: () => (started = true) });
    await waitFor('the stream to have a message', () => started);
    const results = [];
    for (let i = 0; i < 100; i += 20) results.push(...(await Promise.all(Array.from({ length: 20 }, () => client.unary({ message: 'x' })))));
    expect(results.map((r) => r.status.code)).toEqual(Array(100).fill(8));

    // (a summary line may follow if the burst outlasts the summary interval on a slow machine)
    const bound = logs.filter((l) => l.includes('max-concurrent-calls (1) reached'));
    expect(bound).toHaveLength(1);
    expect(JSON.parse(bound[0]!)).toMatchObject({ level: 40, bound: 'max-concurrent-calls', limit: 1, msg: 'max-concurrent-calls (1) reached: refusing calls' });
    expect(logs.filter((l) => l.includes('call refused'))).toHaveLength(0);
    const { x } = await scrape(g);
    expect(x.sum('grpcweb_refused_total', { reason: 'max_concurrent_calls' })).toBe(100);
    expect(x.sum('grpcweb_calls_total', { code: 'RESOURCE_EXHAUSTED' })).toBe(100);
    abort.abort();
    await stream;
  });
});

describe('--max-buffered-request-bytes', () => {
  it('a call whose body would take the total past the bound is RESOURCE_EXHAUSTED; the bytes come back when a call ends', async () => {
    const { g } = await gateway(['--max-request-size', '64KiB', '--max-buffered-request-bytes', '100KiB']);
    const { hostname, port } = new URL(g.httpUrl);
    // EchoRequest { payload (field 2) = 60 KiB }
    const message = frame(Buffer.concat([Buffer.from([0x12, 0x80, 0xe0, 0x03]), Buffer.alloc(60 * 1024, 1)]));
    // A slow upload: the headers and 60 KiB of a 60 KiB + 5 byte frame... the last bytes never come.
    const slow = await open(g);
    slow.write(
      `POST ${ECHO_PATH} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${message.length}\r\n\r\n`,
    );
    slow.write(message.subarray(0, message.length - 1));
    // wait until the gateway holds them: a second such call must now be refused
    let refused: RawAnswer | undefined;
    await waitFor('a refusal for buffered bytes', async () => {
      refused = await post(`http://${hostname}:${port}${ECHO_PATH}`, message);
      return refused.headers['grpc-status'] === '8';
    });
    expect(decodeURIComponent(refused!.headers['grpc-message'] as string)).toBe('the gateway is buffering too many request bytes; retry later');
    // a small call still fits
    expect((await post(g.httpUrl + ECHO_PATH, ECHO_FRAME)).headers['grpc-status']).toBeUndefined();
    // the slow client goes away: its 60 KiB are given back
    slow.destroy();
    await waitFor('a 60 KiB call to be taken again', async () => (await post(g.httpUrl + ECHO_PATH, message)).headers['grpc-status'] === undefined);
    const { x } = await scrape(g);
    expect(x.sum('grpcweb_refused_total', { reason: 'max_buffered_request_bytes' })).toBeGreaterThanOrEqual(1);
  });
});

describe('--max-connections', () => {
  it('the N+1th connection is closed while N are open, counted in /metrics and logged once; after one closes, a new one is served', async () => {
    const N = 3;
    const { g, logs } = await gateway(['--max-connections', String(N)]);
    const held: Socket[] = [];
    for (let i = 0; i < N; i++) {
      const s = await open(g);
      expect(await preflight(s)).toBe('HTTP/1.1 204 No Content');
      held.push(s);
    }
    for (let i = 0; i < 5; i++) expect(await refusedConnection(g)).toBe('');

    const { x } = await scrape(g);
    expect(x.sum('grpcweb_refused_total', { reason: 'max_connections' })).toBe(5);
    expect(logs.filter((l) => l.includes('max-connections (3) reached'))).toHaveLength(1);
    // the held connections still work
    expect(await preflight(held[1]!)).toBe('HTTP/1.1 204 No Content');

    held[0]!.destroy();
    let fresh: Socket | undefined;
    await waitFor('a new connection to be served', async () => {
      const s = await open(g);
      const ok = await preflight(s).then(
        () => true,
        () => false,
      );
      if (ok) fresh = s;
      return ok;
    });
    expect(fresh).toBeDefined();
  });
});

describe('--max-connections with --workers', () => {
  it('each worker bounds its own connections; past them a connection is closed at once, not handed around', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const [port, adminPort] = [await freePort(), await freePort()];
    proc = spawnGateway([
      '--workers', '2', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${adminPort}`, '--upstream', pod.address,
      '--max-connections', '2',
    ]);
    await waitForStatus(`http://127.0.0.1:${adminPort}/readyz`, 200, 20_000);
    const answers: string[] = [];
    for (let i = 0; i < 7; i++) {
      // each connection stays open; the primary hands them to the workers in turn
      answers.push(
        await new Promise<string>((resolve) => {
          let data = '';
          const s = connect(port, '127.0.0.1', () =>
            s.write(`OPTIONS ${ECHO_PATH} HTTP/1.1\r\nHost: gw\r\nOrigin: https://a.example\r\nAccess-Control-Request-Method: POST\r\n\r\n`),
          );
          sockets.push(s);
          s.on('data', (d: Buffer) => {
            data += d.toString('latin1');
            if (data.includes('\r\n\r\n')) resolve(data.split('\r\n', 1)[0]!);
          });
          s.on('error', () => {});
          s.once('close', () => resolve(`closed${data === '' ? '' : ': ' + data}`));
        }),
      );
    }
    expect(answers.filter((a) => a === 'HTTP/1.1 204 No Content')).toHaveLength(4);
    expect(answers.filter((a) => a === 'closed')).toHaveLength(3);
    const x = parseExposition(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text());
    expect(x.sum('grpcweb_refused_total', { reason: 'max_connections' })).toBe(3);
  });
});

describe('metrics a client cannot blow up', () => {
  it('300 requests with 2,000-character random paths, then real calls: /metrics stays small, real methods keep their label', async () => {
    const { g } = await gateway([]);
    const baseline = (await scrape(g)).text.length;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~/';
    const randomPath = () => '/' + Array.from({ length: 1999 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    // half random (mostly no gRPC path at all), half well-formed long paths the Pod answers UNIMPLEMENTED
    const paths = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? randomPath() : `/a${'b'.repeat(997)}${i}.S/${'m'.repeat(996)}`));
    for (let i = 0; i < paths.length; i += 30) {
      const answers = await Promise.all(paths.slice(i, i + 30).map((p) => post(g.httpUrl + p, ECHO_FRAME)));
      for (const a of answers) expect(a.headers['grpc-status']).toBe('12');
    }
    const client = nodeClient('connect', g.httpUrl);
    for (let i = 0; i < 5; i++) expect((await client.unary({ message: 'real' })).ok).toBe(true);
    expect((await client.stream({ count: 2 })).ok).toBe(true);

    const { text, x } = await scrape(g);
    expect(text.length - baseline).toBeLessThan(16 * 1024);
    expect(Math.max(...text.split('\n').map((l) => l.length))).toBeLessThan(400);
    expect(x.sum('grpcweb_calls_total', { method: ECHO_PATH, code: 'OK' })).toBe(5);
    expect(x.sum('grpcweb_calls_total', { method: '/echo.v1.EchoService/ServerStream', code: 'OK' })).toBe(1);
    expect(x.sum('grpcweb_calls_total', { method: 'other', code: 'UNIMPLEMENTED' })).toBe(300);
    expect(new Set(x.find('grpcweb_calls_total').map((s) => s.labels.method))).toEqual(
      new Set([ECHO_PATH, '/echo.v1.EchoService/ServerStream', 'other']),
    );
  });

  it('a refusal after a route matched counts under that route', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const result = loadConfig(
      ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--route', `/echo.v1.EchoService/=${pod.address}`],
      testGatewayEnv(),
    );
    if (!('config' in result)) throw new Error('not a config');
    gw = await startGateway(result.config, { logger: false });
    const g = gw;
    await waitFor('the Pod READY', () => g.pools[0]!.isReady());
    const answer = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(g.httpUrl + ECHO_PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', 'grpc-timeout': 'soon' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end(ECHO_FRAME);
    });
    expect(answer).toBe(400);
    const { x } = await scrape(g);
    expect(x.sum('grpcweb_calls_total', { route: '/echo.v1.EchoService/', code: 'INTERNAL' })).toBe(1);
    expect(x.sum('grpcweb_refused_total', { reason: 'malformed_request' })).toBe(1);
  });
});

describe('one refusal writer', () => {
  it('a refusal on the headers exposes --cors-expose-header extras and closes a connection whose body it left unread', async () => {
    const { g } = await gateway(['--cors-expose-header', 'x-trace-id']);
    const answer = await new Promise<RawAnswer>((resolve, reject) => {
      const req = httpRequest(`${g.httpUrl}/not-a-grpc-path`, {
        method: 'POST',
        agent: keepAlive,
        headers: { 'content-type': 'application/grpc-web+proto', origin: 'https://app.example.com', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      // the body's first chunk only; the rest follows after the answer
      req.write(ECHO_FRAME);
      req.once('response', () => req.end(ECHO_FRAME));
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['grpc-status']).toBe('12');
    expect((answer.headers['access-control-expose-headers'] as string).split(',')).toEqual(
      expect.arrayContaining(['grpc-status', 'grpc-message', 'x-trace-id']),
    );
    expect(answer.headers.connection).toBe('close');
    expect(answer.headers['content-length']).toBe('0');
  });
});
