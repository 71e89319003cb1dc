// The bench's bare node:http2 relay (bench/relay.ts) run as the bench runs it, between a real
// grpc-js client and a real grpc-js server: what it forwards, and that a reset on either side
// reaches the other. Then its rows (bench/relay-row.ts): path names, the reference line's
// same-round ratios, and that a reference line is never counted as a target.
import * as grpc from '@grpc/grpc-js';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { addAbortSignal } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWN_CORE, PINNED_DIRECT, directPathFor } from '../../../bench/pinning.js';
import { Service } from '../../../bench/procs.js';
import { RELAY, RELAY_PINNED, RELAY_REFERENCE, relayReference } from '../../../bench/relay-row.js';
import { metCell, tallyTargets, type TargetCheck } from '../../../bench/stats.js';
import { until } from '../../support/until.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const identity = (b: Buffer): Buffer => b;

async function startRelay(targetPort: number): Promise<{ svc: Service; port: number }> {
  const svc = await Service.start(
    'relay',
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'bench', 'relay.ts'), '--target', `127.0.0.1:${targetPort}`, '--port', '0'],
    { ready: (l) => l.includes('"ready":true'), cwd: ROOT },
  );
  return { svc, port: (JSON.parse(svc.readyLine()!) as { port: number }).port };
}

describe('bench/relay.ts between a grpc-js client and a grpc-js server', () => {
  const pod = new grpc.Server();
  const seen = { deadline: NaN, holdCalls: 0, holdCancelled: 0 };
  let relay: { svc: Service; port: number };
  let client: grpc.Client;

  beforeAll(async () => {
    pod.register('/relay.Test/Echo', (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const d = call.getDeadline();
      seen.deadline = d instanceof Date ? d.getTime() : d;
      cb(null, call.request);
    }, identity, identity, 'unary');
    pod.register('/relay.Test/Fail', (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      cb({ code: grpc.status.PERMISSION_DENIED, details: 'not for you: ü%' });
    }, identity, identity, 'unary');
    pod.register('/relay.Test/FailLate', (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(Buffer.from('first'));
      call.emit('error', { code: grpc.status.ABORTED, details: 'gave up after one' });
    }, identity, identity, 'serverStream');
    // Answers its headers at once, then nothing until the caller goes away.
    pod.register('/relay.Test/Hold', (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
      seen.holdCalls++;
      call.on('cancelled', () => seen.holdCancelled++);
      call.sendMetadata(new grpc.Metadata());
    }, identity, identity, 'unary');
    const podPort = await new Promise<number>((resolve, reject) =>
      pod.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    relay = await startRelay(podPort);
    client = new grpc.Client(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await relay?.svc.stop();
    pod.forceShutdown();
  });

  const unary = (method: string, body: Buffer, options: grpc.CallOptions = {}): Promise<Buffer> =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(`/relay.Test/${method}`, identity, identity, body, new grpc.Metadata(), options, (e, r) =>
        e ? reject(e) : resolve(r!),
      ),
    );

  it('relays a unary call and its grpc-timeout: the Pod sees the caller\'s deadline', async () => {
    const body = Buffer.alloc(100, 0x62);
    const deadline = Date.now() + 60_000;
    expect(await unary('Echo', body, { deadline })).toEqual(body);
    // grpc-timeout is relative: the Pod's deadline is the caller's, less the time in transit.
    expect(seen.deadline).toBeLessThanOrEqual(deadline + 1000);
    expect(seen.deadline).toBeGreaterThan(deadline - 20_000);
  });

  it('forwards grpc-status and grpc-message of a call that fails before any message (trailers-only)', async () => {
    await expect(unary('Fail', Buffer.from('x'))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'not for you: ü%' });
  });

  it('forwards grpc-status and grpc-message sent as trailers after a message', async () => {
    const got: Buffer[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.makeServerStreamRequest('/relay.Test/FailLate', identity, identity, Buffer.from('go'));
      call.on('data', (m: Buffer) => got.push(m));
      call.on('error', () => {});
      call.on('status', resolve);
    });
    expect(got.map(String)).toEqual(['first']);
    expect(status).toMatchObject({ code: grpc.status.ABORTED, details: 'gave up after one' });
  });

  it('forwards the Pod\'s response headers before any DATA, and a client\'s cancel resets the Pod\'s stream', async () => {
    const cancelled = seen.holdCancelled;
    const call = client.makeUnaryRequest('/relay.Test/Hold', identity, identity, Buffer.from('x'), () => {});
    // The Pod sent headers and no message: the client can only see them if the relay forwarded
    // them on arrival.
    await new Promise<void>((resolve) => call.on('metadata', () => resolve()));
    expect(seen.holdCancelled).toBe(cancelled);
    call.cancel();
    expect(await until(() => seen.holdCancelled === cancelled + 1, 10_000)).toBe(true);
  });

  it('keeps relaying after failed and cancelled calls', async () => {
    const body = Buffer.from('still here');
    expect(await unary('Echo', body)).toEqual(body);
    expect(relay.svc.child.exitCode).toBeNull();
  });
});

describe('bench/relay.ts when the Pod resets a stream', () => {
  // A node:http2 Pod that resets each stream, with or without response headers first. (Its
  // stream.close(code) would end the stream cleanly before the reset: an abort signal resets it
  // with CANCEL, an error with INTERNAL_ERROR.)
  let pod: Http2Server;
  let relay: { svc: Service; port: number };
  let client: grpc.Client;

  beforeAll(async () => {
    pod = createH2Server();
    pod.on('stream', (stream, headers) => {
      stream.on('error', () => {}); // its own reset, reported on its own stream
      const path = headers[':path'];
      if (path !== '/relay.Test/CancelEarly') stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
      setImmediate(() => {
        if (path === '/relay.Test/Break') {
          stream.destroy(new Error('pod broke'));
          return;
        }
        const abort = new AbortController();
        addAbortSignal(abort.signal, stream);
        abort.abort();
      });
    });
    await new Promise<void>((resolve) => pod.listen(0, '127.0.0.1', resolve));
    relay = await startRelay((pod.address() as AddressInfo).port);
    client = new grpc.Client(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await relay?.svc.stop();
    pod?.close();
  });

  const call = (method: string): Promise<grpc.ServiceError | null> =>
    new Promise((resolve) => client.makeUnaryRequest(`/relay.Test/${method}`, identity, identity, Buffer.from('x'), (e) => resolve(e)));

  it('resets the client\'s stream with the Pod\'s code, before or after the response headers', async () => {
    // A clean end in their place would read "RST_STREAM with code 0 (Call ended without gRPC status)".
    expect(await call('Cancel')).toMatchObject({ code: grpc.status.CANCELLED });
    expect(await call('CancelEarly')).toMatchObject({ code: grpc.status.CANCELLED });
    expect(await call('Break')).toMatchObject({ code: grpc.status.INTERNAL, details: expect.stringMatching(/RST_STREAM with code 2\b/) });
    expect(relay.svc.child.exitCode).toBeNull();
  });
});

describe('bench/relay.ts when the Pod restarts', () => {
  const echo = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void => cb(null, call.request);
  const startPod = async (port: number): Promise<{ server: grpc.Server; port: number }> => {
    const server = new grpc.Server();
    server.register('/relay.Test/Echo', echo, identity, identity, 'unary');
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return { server, port: bound };
  };
  let pod: { server: grpc.Server; port: number };
  let relay: { svc: Service; port: number };
  let client: grpc.Client;

  afterAll(async () => {
    client?.close();
    await relay?.svc.stop();
    pod?.server.forceShutdown();
  });

  const echoOnce = (): Promise<grpc.ServiceError | null> =>
    new Promise((resolve) => client.makeUnaryRequest('/relay.Test/Echo', identity, identity, Buffer.from('x'), (e) => resolve(e)));

  it('fails calls while the Pod is gone, without exiting, and opens a new session once it is back', async () => {
    pod = await startPod(0);
    relay = await startRelay(pod.port);
    client = new grpc.Client(`127.0.0.1:${relay.port}`, grpc.credentials.createInsecure());
    expect(await echoOnce()).toBeNull();
    pod.server.forceShutdown();
    // The relay's session to the Pod closes; calls fail (no Pod), the relay stays up.
    const failed = await echoOnce();
    expect(failed?.code).not.toBe(grpc.status.OK);
    expect(relay.svc.child.exitCode).toBeNull();
    pod = await startPod(pod.port);
    const deadline = Date.now() + 15_000;
    let last = failed;
    while (last !== null && Date.now() < deadline) {
      last = await echoOnce();
      if (last !== null) await new Promise((r) => setTimeout(r, 100));
    }
    expect(last).toBeNull();
  });
});

describe('the relay rows and their reference lines', () => {
  const row = (round: number, path: string, callsPerS: number) => ({ case: 'grpc64', round, path, callsPerS });
  // Shared cores: relay/direct per round 0.60, 0.50, 0.70 (median 0.60); gateway/relay 0.75, 1.0, 0.80 (median 0.80).
  // Pinned: relay/direct 0.80, 0.70, 0.75 (median 0.75); gateway/relay 0.50, 0.60, 0.70 (median 0.60).
  const samples = [
    row(1, 'direct grpc-js', 5000), row(1, RELAY, 3000), row(1, 'gateway grpc-js', 2250),
    row(2, 'direct grpc-js', 4000), row(2, RELAY, 2000), row(2, 'gateway grpc-js', 2000),
    row(3, 'direct grpc-js', 5000), row(3, RELAY, 3500), row(3, 'gateway grpc-js', 2800),
    row(1, PINNED_DIRECT, 4000), row(1, RELAY_PINNED, 3200), row(1, 'gateway grpc-js' + OWN_CORE, 1600),
    row(2, PINNED_DIRECT, 4000), row(2, RELAY_PINNED, 2800), row(2, 'gateway grpc-js' + OWN_CORE, 1680),
    row(3, PINNED_DIRECT, 4000), row(3, RELAY_PINNED, 3000), row(3, 'gateway grpc-js' + OWN_CORE, 2100),
  ];
  const none = { skip: null, failures: new Map<string, string>() };

  it('names the relay paths, each measured against the direct client of its own layout', () => {
    expect(RELAY).toBe('relay grpc-js');
    expect(RELAY_PINNED).toBe('relay grpc-js (own core)');
    expect(directPathFor(RELAY)).toBe('direct grpc-js');
    expect(directPathFor(RELAY_PINNED)).toBe(PINNED_DIRECT);
  });

  it('gives relay ÷ direct and gateway ÷ relay as medians of same-round ratios, per layout', () => {
    expect(relayReference(samples, 'grpc64', 'gateway grpc-js', null)).toEqual({
      target: RELAY_REFERENCE,
      value: '0.60× direct; gateway ÷ relay: 0.80×',
      met: null,
      reference: true,
    });
    expect(relayReference(samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, none)).toEqual({
      target: RELAY_REFERENCE + ', relay on the gateway\'s core',
      value: '0.75× direct; gateway ÷ relay: 0.60×',
      met: null,
      reference: true,
    });
  });

  it('says why a pinned reference has no figure: layout skipped, or pinning failed on the relay or the direct client', () => {
    const ref = (outcome: Parameters<typeof relayReference>[3]): string => relayReference(samples, 'grpc64', 'gateway grpc-js' + OWN_CORE, outcome).value;
    expect(ref({ skip: 'taskset is not installed', failures: new Map() })).toBe('skipped: taskset is not installed');
    expect(ref({ skip: null, failures: new Map([[`grpc64/${RELAY_PINNED}`, 'x']]) })).toBe('pinning failed');
    expect(ref({ skip: null, failures: new Map([[`grpc64/${PINNED_DIRECT}`, 'x']]) })).toBe('pinning failed');
    // The gateway's own pinning failure leaves its samples out: the relay's figure stays, the quotient cannot.
    const noGateway = samples.filter((s) => s.path !== 'gateway grpc-js' + OWN_CORE);
    expect(relayReference(noGateway, 'grpc64', 'gateway grpc-js' + OWN_CORE, none).value).toBe('0.75× direct; gateway ÷ relay: –');
    expect(relayReference(samples.filter((s) => s.path !== RELAY), 'grpc64', 'gateway grpc-js', null).value).toBe('not measured');
  });

  it('is never counted as a met or unmet target, and reads "reference" in the table', () => {
    const target = (met: boolean | null): TargetCheck => ({ target: 't', value: 'v', met });
    const refs = [relayReference(samples, 'grpc64', 'gateway grpc-js', null), relayReference([], 'grpc64', 'gateway grpc-js', null)];
    expect(tallyTargets([target(true), ...refs, target(false), target(null), target(false)])).toEqual({ met: 1, notMet: 2, skipped: 1, references: 2 });
    expect(refs.map(metCell)).toEqual(['reference', 'reference']);
    expect([true, false, null].map((m) => metCell(target(m)))).toEqual(['yes', '**no**', '–']);
  });
});
