// One gRPC-Web server stream over HTTP/1.1 (keep-alive, node:http), counting complete message
// frames as they arrive: messages/s over the whole stream and time to the first message.
// Prints BENCHJSON {...}. The connection is opened by a warm-up call first, like the grpc-js
// baseline's channel, so neither side measures a TCP handshake to the proxy.
//
//   --url http://127.0.0.1:8080 --count 100000 --size 100 --reps 3
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { STREAM_METHOD, UNARY_METHOD, streamRequest } from './methods.js';
import { streamSummary, type StreamRun } from './stats.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '100000' },
    size: { type: 'string', default: '100' },
    reps: { type: 'string', default: '3' },
  },
});

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const base = new URL(values.url!);

function frame(message: Buffer): Buffer {
  const f = Buffer.alloc(5 + message.length);
  f.writeUInt32BE(message.length, 1);
  message.copy(f, 5);
  return f;
}

/** POSTs one call; resolves once the response ended, with its message count and timing. */
function call(path: string, message: Buffer, expectSize: number): Promise<StreamRun & { trailer: string }> {
  const body = frame(message);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = -1;
    let messages = 0;
    let trailer = '';
    // Frame parser state: bytes still needed for the current header or payload.
    let header = Buffer.alloc(0);
    let remaining = 0;
    let isTrailer = false;
    let trailerParts: Buffer[] = [];
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'content-length': body.length },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          let off = 0;
          while (off < chunk.length) {
            if (remaining === 0 && header.length < 5) {
              const need = 5 - header.length;
              header = Buffer.concat([header, chunk.subarray(off, off + need)]);
              off += Math.min(need, chunk.length - off);
              if (header.length < 5) break;
              isTrailer = (header[0]! & 0x80) !== 0;
              remaining = header.readUInt32BE(1);
              if (!isTrailer && remaining !== expectSize) reject(new Error(`message of ${remaining} bytes`));
              if (remaining === 0) {
                header = Buffer.alloc(0);
                if (!isTrailer) messages++;
              }
              continue;
            }
            const take = Math.min(remaining, chunk.length - off);
            if (isTrailer) trailerParts.push(chunk.subarray(off, off + take));
            off += take;
            remaining -= take;
            if (remaining === 0) {
              header = Buffer.alloc(0);
              if (isTrailer) {
                trailer = Buffer.concat(trailerParts).toString('latin1');
                trailerParts = [];
              } else {
                messages++;
                if (first < 0) first = performance.now() - t0;
              }
            }
          }
        });
        res.on('end', () => {
          const status = /grpc-status:\s*(\d+)/i.exec(trailer)?.[1] ?? res.headers['grpc-status'];
          if (status !== '0') reject(new Error(`grpc-status ${String(status)} ${trailer.trim()}`));
          else resolve({ messages, seconds: (performance.now() - t0) / 1000, firstMs: first, trailer });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const count = Number(values.count);
  const size = Number(values.size);
  const reps = Number(values.reps);
  for (let i = 0; i < 20; i++) await call(UNARY_METHOD, Buffer.alloc(100, 0x62), 100);
  await call(STREAM_METHOD, streamRequest(1000, size), size);
  const runs: StreamRun[] = [];
  for (let i = 0; i < reps; i++) {
    const { messages, seconds, firstMs } = await call(STREAM_METHOD, streamRequest(count, size), size);
    runs.push({ messages, seconds, firstMs });
  }
  process.stdout.write(`BENCHJSON ${JSON.stringify(streamSummary(runs, count))}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`web-stream-client: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
