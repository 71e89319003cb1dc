// The direct baseline: an ordinary grpc-js Client (one channel, default options, identity
// serializers) calling the backend with no proxy in between. Runs in its own process, like wrk
// does for the proxies, and prints one line: BENCHJSON {...}.
//
//   unary:  --target H:P --size 100 --concurrency 64 --duration-ms 5000 [--max-calls N] [--tls-ca PEM]
//   stream: --target H:P --stream --count 100000 --size 100 --reps 3
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { STREAM_METHOD, UNARY_METHOD, streamRequest } from './methods.js';
import { percentile, streamSummary, type StreamRun } from './stats.js';

const identity = (b: Buffer): Buffer => b;

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    size: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '64' },
    'duration-ms': { type: 'string', default: '5000' },
    'max-calls': { type: 'string', default: '10000000' },
    stream: { type: 'boolean', default: false },
    count: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '3' },
    // TLS to the target, trusting this CA (the bench's self-signed certificate).
    'tls-ca': { type: 'string' },
  },
});

const credentials = values['tls-ca'] ? grpc.credentials.createSsl(readFileSync(values['tls-ca'])) : grpc.credentials.createInsecure();
const client = new grpc.Client(values.target!, credentials, {
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
});

function unaryOnce(body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(UNARY_METHOD, identity, identity, body, (err, res) => {
      if (err) reject(err);
      else if (!res || res.length !== body.length) reject(new Error('bad echo'));
      else resolve();
    });
  });
}

async function unary(): Promise<void> {
  const size = Number(values.size);
  const concurrency = Number(values.concurrency);
  const durationMs = Number(values['duration-ms']);
  const maxCalls = Number(values['max-calls']);
  const body = Buffer.alloc(size, 0x62);
  // Connect and warm up before the clock starts (wrk does not measure connects either).
  for (let i = 0; i < 50; i++) await unaryOnce(body);
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + durationMs;
  const worker = async (): Promise<void> => {
    while (started < maxCalls && performance.now() < until) {
      started++;
      const s = performance.now();
      try {
        await unaryOnce(body);
        latencies.push(performance.now() - s);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  out({
    calls: latencies.length,
    errors,
    firstError,
    durationS: elapsed,
    callsPerS: latencies.length / elapsed,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    // This client process's own CPU: what grpc-js costs per call on the client side.
    clientCpuS: (cpu.user + cpu.system) / 1e6,
  });
}

function streamOnce(count: number, size: number): Promise<StreamRun> {
  const req = streamRequest(count, size);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = -1;
    let messages = 0;
    const call = client.makeServerStreamRequest(STREAM_METHOD, identity, identity, req);
    call.on('data', (m: Buffer) => {
      if (first < 0) first = performance.now() - t0;
      if (m.length !== size) reject(new Error('bad message size'));
      messages++;
    });
    call.on('error', reject);
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code !== grpc.status.OK) return; // 'error' rejects
      resolve({ messages, seconds: (performance.now() - t0) / 1000, firstMs: first });
    });
  });
}

async function stream(): Promise<void> {
  const count = Number(values.count);
  const size = Number(values.size);
  const reps = Number(values.reps);
  for (let i = 0; i < 20; i++) await unaryOnce(Buffer.alloc(100));
  await streamOnce(1000, size); // warm the stream path too
  const runs = [];
  for (let i = 0; i < reps; i++) runs.push(await streamOnce(count, size));
  out(streamSummary(runs, count));
}

function out(result: Record<string, unknown>): void {
  process.stdout.write(`BENCHJSON ${JSON.stringify(result)}\n`);
}

(values.stream ? stream() : unary()).then(
  () => {
    client.close();
    process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`grpc-client: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
