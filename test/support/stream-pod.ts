// A grpc-js "Pod" that speaks raw bytes (identity serializers) and serves the four call types,
// for tests of streamed requests. What it received is recorded per call, so a test can tell
// which messages reached a Pod, in which order, and how many times a call ran.
//   /test.Stream/Unary    answers its one message back
//   /test.Stream/Serve    answers `count` messages (the request is "count" or "count:size", as text)
//   /test.Stream/Collect  client streaming: answers every message joined with '|'
//   /test.Stream/Chat     bidi: echoes each message the moment it arrives
// Every call answers with initial metadata x-pod (its address) and copies request metadata
// x-echo-* back as initial metadata and as trailing metadata trailer-x-echo-*. A request
// metadata x-fail: CODE ends Unary, Collect and Chat with that status once the request has ended,
// trailers-only (nothing sent before it) unless x-headers-first is set too.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';

export interface StreamPodCall {
  method: string;
  messages: Buffer[];
  metadata: grpc.Metadata;
  /** The Pod has answered it (grpc-js also ends the request stream of a cancelled call). */
  ended: boolean;
  /** Serve: messages written so far. */
  sent: number;
}

export interface StreamPod {
  address: string;
  calls: StreamPodCall[];
  /** While true, Collect and Chat stop reading their request stream (backpressure tests). */
  paused: boolean;
  resume(): void;
  close(): Promise<void>;
  forceClose(): void;
}

const identity = (b: Buffer): Buffer => b;

function answerMetadata(call: StreamPodCall, address: string): [grpc.Metadata, grpc.Metadata] {
  const initial = new grpc.Metadata();
  const trailing = new grpc.Metadata();
  initial.set('x-pod', address);
  for (const [key, values] of Object.entries(call.metadata.getMap())) {
    if (!key.startsWith('x-echo-')) continue;
    initial.set(key, values as string);
    trailing.set(`trailer-${key}`, values as string);
  }
  return [initial, trailing];
}

function failure(call: StreamPodCall, trailing: grpc.Metadata): grpc.StatusObject | null {
  const code = call.metadata.get('x-fail')[0];
  if (code === undefined) return null;
  return { code: Number(code), details: `failing on purpose: ${call.messages.length} messages`, metadata: trailing };
}

export async function startStreamPod(host: string, port = 0): Promise<StreamPod> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const address = `${host}:${bound}`;
  const readers = new Set<grpc.ServerReadableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>>();
  const pod: StreamPod = {
    address,
    calls: [],
    paused: false,
    resume() {
      pod.paused = false;
      for (const r of readers) r.resume();
    },
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
  const serve = (path: string, handler: grpc.UntypedHandleCall, type: 'unary' | 'serverStream' | 'clientStream' | 'bidi'): void => {
    server.register(path, handler, identity, identity, type);
  };
  const record = (method: string, call: { metadata: grpc.Metadata }): StreamPodCall => {
    const seen: StreamPodCall = { method, messages: [], metadata: call.metadata, ended: false, sent: 0 };
    pod.calls.push(seen);
    return seen;
  };
  /** Reads a request stream, honouring `paused`. */
  const read = (
    call: grpc.ServerReadableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>,
    seen: StreamPodCall,
    onMessage: (m: Buffer) => void,
    onEnd: () => void,
  ): void => {
    readers.add(call);
    call.on('data', (m: Buffer) => {
      seen.messages.push(m);
      onMessage(m);
      if (pod.paused) call.pause();
    });
    call.on('end', () => {
      readers.delete(call);
      onEnd();
    });
    call.on('error', () => readers.delete(call));
    if (pod.paused) call.pause();
  };

  serve(
    '/test.Stream/Unary',
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const seen = record('Unary', call);
      seen.messages.push(call.request);
      const [initial, trailing] = answerMetadata(seen, address);
      seen.ended = true;
      const failed = failure(seen, trailing);
      if (failed) return callback(failed);
      call.sendMetadata(initial);
      callback(null, call.request, trailing);
    },
    'unary',
  );
  serve(
    '/test.Stream/Serve',
    (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const seen = record('Serve', call);
      seen.messages.push(call.request);
      const [initial, trailing] = answerMetadata(seen, address);
      call.sendMetadata(initial);
      const [count, size] = call.request.toString().split(':').map(Number) as [number, number | undefined];
      let i = 0;
      // Honours backpressure ('drain'), so `sent` counts what the Pod's transport has taken.
      const more = (): void => {
        while (i < count && !call.cancelled) {
          const message = size === undefined ? Buffer.from(`message ${i}`) : Buffer.alloc(size, i & 0xff);
          i++;
          seen.sent++;
          if (!call.write(message)) {
            call.once('drain', more);
            return;
          }
        }
        if (call.cancelled) return;
        seen.ended = true;
        call.end(trailing);
      };
      more();
    },
    'serverStream',
  );
  /** Collect and Chat: the request stream is read as it comes; `finish` answers its end. */
  const streamed = (
    method: string,
    call: grpc.ServerReadableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>,
    onMessage: (m: Buffer) => void,
    finish: (seen: StreamPodCall, failed: grpc.StatusObject | null, trailing: grpc.Metadata) => void,
  ): void => {
    const seen = record(method, call);
    const [initial, trailing] = answerMetadata(seen, address);
    const trailersOnly = call.metadata.get('x-fail').length > 0 && call.metadata.get('x-headers-first').length === 0;
    if (!trailersOnly) call.sendMetadata(initial);
    read(call, seen, onMessage, () => {
      seen.ended = true;
      finish(seen, failure(seen, trailing), trailing);
    });
  };
  serve(
    '/test.Stream/Collect',
    (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      streamed('Collect', call, () => {}, (seen, failed, trailing) => {
        if (failed) callback(failed);
        else callback(null, Buffer.from(seen.messages.map((m) => m.toString()).join('|')), trailing);
      }),
    'clientStream',
  );
  serve(
    '/test.Stream/Chat',
    (call: grpc.ServerDuplexStream<Buffer, Buffer>) =>
      streamed('Chat', call, (m) => call.write(m), (_seen, failed, trailing) => {
        if (failed) call.emit('error', failed);
        else call.end(trailing);
      }),
    'bidi',
  );
  return pod;
}

/**
 * A gRPC Pod on Node's http2 that echoes request bytes back and never ends a call itself, so
 * the way each call ended is the client's: the RST_STREAM code it sent (`rstCodes`).
 */
export async function startHoldingPod(host: string) {
  const server = http2.createServer();
  const rstCodes: number[] = [];
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.on('close', () => rstCodes.push(stream.rstCode ?? -1));
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.on('data', (chunk: Buffer) => stream.write(chunk));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as { port: number };
  return { address: `${host}:${port}`, rstCodes, close: () => new Promise<void>((r) => server.close(() => r())) };
}
