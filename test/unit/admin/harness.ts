// Shared by the admin tests (unit and e2e): tiny echo Pods, a gateway in the test process,
// real gRPC-Web calls made with fetch, and a Prometheus text parser.
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../../../src/config/index.js';
import { startGateway, type Gateway } from '../../../src/gateway.js';

export const ECHO = '/echo.v1.EchoService/Echo';
/** Fails with INTERNAL (a failure that counts against the Pod). */
export const BROKEN = '/echo.v1.EchoService/Broken';

export interface EchoPod {
  host: string;
  port: number;
  address: string;
  calls: number;
  close(): Promise<void>;
}

const identity = <T>(x: T): T => x;

/** A grpc-js server answering Echo with the request bytes ("sleep:MS": after MS ms), Broken with INTERNAL. */
export async function startEchoPod(host: string, port = 0, delayMs = 0): Promise<EchoPod> {
  const server = new grpc.Server();
  const pod = { host, port: 0, address: '', calls: 0, close: async () => {} } as EchoPod;
  server.register(
    ECHO,
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      pod.calls++;
      // A request "sleep:MS" is answered after MS ms (keeps calls in flight on purpose).
      const m = /^sleep:(\d+)$/.exec(call.request.toString('latin1'));
      const wait = m ? Number(m[1]) : delayMs;
      if (wait > 0) setTimeout(() => callback(null, call.request), wait);
      else callback(null, call.request);
    },
    identity,
    identity,
    'unary',
  );
  server.register(
    BROKEN,
    (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      pod.calls++;
      callback({ code: grpc.status.INTERNAL, details: 'broken on purpose' });
    },
    identity,
    identity,
    'unary',
  );
  pod.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  pod.address = `${host}:${pod.port}`;
  pod.close = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return pod;
}

/** A gateway in this process, from command-line flags; admin and listener on loopback port 0. */
export async function gatewayFrom(flags: string[]): Promise<Gateway> {
  const defaults = ['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
  if (!flags.includes('--shutdown-delay')) defaults.push('--shutdown-delay', '0s');
  const result = loadConfig([...defaults, ...flags], {});
  if (!('config' in result)) throw new Error('expected a config');
  return startGateway(result.config, { logger: false });
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitReady(gw: Gateway): Promise<void> {
  await waitFor('/readyz 200', async () => (await fetch(`${gw.adminUrl}/readyz`)).status === 200);
}

export interface WebResult {
  httpStatus: number;
  grpcStatus: number;
  messages: Buffer[];
}

/** One unary gRPC-Web (binary) call: 5-byte frame header + bytes; status from trailer frame or headers. */
export async function grpcWebCall(baseUrl: string, path: string, payload: Buffer): Promise<WebResult> {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(payload.length, 1);
  const response = await fetch(baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
    body: Buffer.concat([header, payload]),
  });
  const body = Buffer.from(await response.arrayBuffer());
  const messages: Buffer[] = [];
  let grpcStatus = Number(response.headers.get('grpc-status') ?? NaN);
  for (let at = 0; at + 5 <= body.length; ) {
    const flags = body[at]!;
    const length = body.readUInt32BE(at + 1);
    const data = body.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if (flags & 0x80) {
      const m = /grpc-status:\s*(\d+)/i.exec(data.toString('latin1'));
      if (m) grpcStatus = Number(m[1]);
    } else messages.push(data);
  }
  return { httpStatus: response.status, grpcStatus, messages };
}

// ---- Prometheus text ------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** Sum of the samples named `name` whose labels include `where`. */
  sum(name: string, where?: Record<string, string>): number;
  find(name: string, where?: Record<string, string>): Sample[];
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m) types.set(m[1]!, m[2]!);
      continue;
    }
    const m = LINE.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    samples.push({ name: m[1]!, labels, value });
  }
  const find = (name: string, where: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  return { types, samples, find, sum: (name, where) => find(name, where).reduce((a, s) => a + s.value, 0) };
}

export async function scrape(gw: Gateway): Promise<Exposition> {
  const response = await fetch(`${gw.adminUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
