// The example "Pod": a real @grpc/grpc-js server implementing echo.v1.EchoService.
// Tests, the demo and the benchmark run several of these behind the gateway.
//
//   node --import tsx examples/echo-pod/server.ts --host 127.0.0.2 --port 50051
//
// prints {"ready":true,"address":"127.0.0.2:50051"} once listening; SIGTERM shuts down gracefully
// (in-flight calls finish) and exits 0. When forked with IPC, {cmd:'stats'} is answered with
// {type:'stats', id, calls, cancelled}.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO_PATH = fileURLToPath(new URL('../../protos/echo.proto', import.meta.url));

export interface EchoPod {
  /** "host:port" the Pod listens on (also what it puts in `pod` fields and x-pod). */
  address: string;
  /** Calls received so far (Echo + ServerStream). */
  calls(): number;
  /** Calls that the client (or its deadline) cancelled before the Pod finished them. */
  cancelledCalls(): number;
  /** Graceful: stop accepting, let in-flight calls finish (server.tryShutdown). */
  close(): Promise<void>;
  /** Abort everything at once (server.forceShutdown). */
  forceClose(): void;
}

export interface EchoPodOptions {
  host: string;
  /** 0 = pick a free port. */
  port: number;
  /** Default: plaintext. */
  credentials?: grpc.ServerCredentials;
}

/** Wire shape of the messages as @grpc/proto-loader gives them (keepCase, defaults). */
interface EchoRequest {
  message: string;
  payload: Buffer;
  status_code: number;
  status_message: string;
  delay_ms: number;
  response_size: number;
}
interface ServerStreamRequest {
  count: number;
  interval_ms: number;
  payload_size: number;
  fail_after: number;
  status_code: number;
  status_message: string;
}
interface EchoResponse {
  message: string;
  payload: Buffer;
  pod: string;
  index: number;
}

/** The bytes a Pod sends when asked for `n` payload bytes: byte i = i mod 256. */
export function payloadPattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(Math.max(0, n));
  for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

let serviceDefinition: grpc.ServiceDefinition | undefined;
function echoService(): grpc.ServiceDefinition {
  if (serviceDefinition) return serviceDefinition;
  const def = protoLoader.loadSync(ECHO_PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    echo: { v1: { EchoService: grpc.ServiceClientConstructor } };
  };
  serviceDefinition = pkg.echo.v1.EchoService.service;
  return serviceDefinition;
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Copies every x-echo-* entry of `from` into `to`, renamed by `rename`. */
function copyEcho(from: grpc.Metadata, to: grpc.Metadata, rename: (key: string) => string): void {
  for (const key of Object.keys(from.getMap())) {
    if (!key.startsWith('x-echo-')) continue;
    for (const value of from.get(key)) to.add(rename(key), value);
  }
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

function initialMetadata(call: AnyCall, address: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-pod', address);
  copyEcho(call.metadata, md, (k) => k);
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(at)) md.set('x-deadline-ms', String(Math.max(0, Math.round(at - Date.now()))));
  return md;
}

function trailingMetadata(call: AnyCall): grpc.Metadata {
  const md = new grpc.Metadata();
  copyEcho(call.metadata, md, (k) => `trailer-${k}`);
  return md;
}

export async function startEchoPod(opts: EchoPodOptions): Promise<EchoPod> {
  const server = new grpc.Server();
  let address = formatAddress(opts.host, opts.port);
  let calls = 0;
  let cancelled = 0;

  /**
   * grpc-js emits 'cancelled' whenever the HTTP/2 stream closes, even after a normal status, so a
   * call counts as cancelled only when it closed before we finished it. Returns [isCancelled, finished].
   */
  function watchCancel(call: AnyCall, onCancel: () => void): [() => boolean, () => void] {
    let isCancelled = false;
    let isFinished = false;
    call.on('cancelled', () => {
      if (isCancelled || isFinished) return;
      isCancelled = true;
      cancelled++;
      onCancel();
    });
    return [() => isCancelled, () => void (isFinished = true)];
  }

  const handlers: grpc.UntypedServiceImplementation = {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
      calls++;
      const req = call.request;
      call.sendMetadata(initialMetadata(call, address));
      const trailer = trailingMetadata(call);
      let timer: NodeJS.Timeout | undefined;
      const [isCancelled, finished] = watchCancel(call, () => clearTimeout(timer));
      const answer = (): void => {
        if (isCancelled()) return;
        finished();
        if (req.status_code !== 0) {
          callback({ code: req.status_code, details: req.status_message, metadata: trailer });
          return;
        }
        const payload = req.response_size > 0 ? payloadPattern(req.response_size) : req.payload;
        callback(null, { message: req.message, payload, pod: address, index: 0 }, trailer);
      };
      if (req.delay_ms > 0) timer = setTimeout(answer, req.delay_ms);
      else answer();
    },

    ServerStream(call: grpc.ServerWritableStream<ServerStreamRequest, EchoResponse>) {
      calls++;
      const req = call.request;
      call.sendMetadata(initialMetadata(call, address));
      const trailer = trailingMetadata(call);
      // Wakes up whatever the loop is waiting on (interval timer or 'drain') when cancelled.
      let wake: (() => void) | undefined;
      const [isCancelled, finished] = watchCancel(call, () => wake?.());
      const wait = (ms: number): Promise<void> =>
        new Promise((resolve) => {
          const t = setTimeout(done, ms);
          function done(): void {
            clearTimeout(t);
            wake = undefined;
            resolve();
          }
          wake = done;
        });
      const drained = (): Promise<void> =>
        new Promise((resolve) => {
          const done = (): void => {
            call.off('drain', done);
            wake = undefined;
            resolve();
          };
          call.on('drain', done);
          wake = done;
        });
      const payload = payloadPattern(req.payload_size);

      void (async () => {
        let sent = 0;
        for (let i = 0; i < req.count; i++) {
          if (isCancelled()) return;
          if (req.fail_after > 0 && i === req.fail_after) break;
          if (i > 0 && req.interval_ms > 0) {
            await wait(req.interval_ms);
            if (isCancelled()) return;
          }
          const more = call.write({ message: `message ${i}`, payload, pod: address, index: i });
          sent++;
          if (!more) {
            await drained();
            if (isCancelled()) return;
          }
        }
        if (isCancelled()) return;
        finished();
        if (req.fail_after > 0 && sent >= req.fail_after && req.status_code !== 0) {
          call.emit('error', { code: req.status_code, details: req.status_message, metadata: trailer });
        } else {
          call.end(trailer);
        }
      })();
    },
  };

  server.addService(echoService(), handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(formatAddress(opts.host, opts.port), opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  address = formatAddress(opts.host, port);

  let closing: Promise<void> | undefined;
  return {
    address,
    calls: () => calls,
    cancelledCalls: () => cancelled,
    close() {
      closing ??= new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      return closing;
    },
    forceClose() {
      server.forceShutdown();
    },
  };
}

// ---- run as a process -------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port ${values.port}`);
  const pod = await startEchoPod({ host: values.host!, port });
  process.stdout.write(JSON.stringify({ ready: true, address: pod.address }) + '\n');

  process.on('message', (msg: unknown) => {
    const m = msg as { cmd?: string; id?: unknown } | null;
    if (m?.cmd === 'stats' && process.send) {
      process.send({ type: 'stats', id: m.id, calls: pod.calls(), cancelled: pod.cancelledCalls() });
    }
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void pod.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // A forked Pod whose parent went away (IPC closed) has no one left to serve.
  process.on('disconnect', stop);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
