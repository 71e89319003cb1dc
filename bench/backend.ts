// The benchmark's backend Pod: a grpc-js server with identity (de)serializers, so that the
// backend spends nothing on protobuf and the figures are about the proxies, not about the
// Pod (examples/echo-pod decodes and encodes every message with proto-loader; on a 2-core
// machine that CPU would be taken from the proxy under test).
//
//   node --import tsx bench/backend.ts --host 127.0.0.1 --port 0
//
// prints {"ready":true,"port":N}; exits on SIGTERM/SIGINT or when its parent's IPC closes.
//
//   /bench.Bench/Unary   answers with the request bytes (echo): 100 B in, 100 B out; 1 MiB in, 1 MiB out.
//   /bench.Bench/Stream  request = uint32 BE count, uint32 BE size: sends `count` messages of `size`
//                        bytes, honouring backpressure, then OK.
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { STREAM_METHOD, UNARY_METHOD } from './methods.js';

const identity = (b: Buffer): Buffer => b;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } },
  });
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 16 * 1024 * 1024,
  });
  server.register(
    UNARY_METHOD,
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      callback(null, call.request);
    },
    identity,
    identity,
    'unary',
  );
  server.register(
    STREAM_METHOD,
    (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const req = call.request;
      const count = req.length >= 8 ? req.readUInt32BE(0) : 0;
      const size = req.length >= 8 ? req.readUInt32BE(4) : 0;
      const payload = Buffer.alloc(size, 0x61);
      let sent = 0;
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
      });
      const pump = (): void => {
        while (sent < count && !cancelled) {
          sent++;
          if (!call.write(payload)) {
            call.once('drain', pump);
            return;
          }
        }
        if (!cancelled) call.end();
      };
      pump();
    },
    identity,
    identity,
    'serverStream',
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${values.host}:${values.port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
  const stop = (): void => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
