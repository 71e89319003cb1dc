// The bench's HTTP/2 paths: gRPC-Web over h2c and over TLS (ALPN h2), and native gRPC passed
// through, each loaded by h2load (-m64 on one connection) and, for native gRPC, by a grpc-js
// client. A gateway that does not answer them is reported as skipped, never given a figure.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { UNARY_METHOD } from './methods.js';
import { pinnedCommand, type Placement } from './pinning.js';
import { runTool } from './procs.js';
import { percentile } from './stats.js';

export const CT_GRPC = 'application/grpc';

/** What every load generator of the bench reports. */
export interface H2LoadResult {
  calls: number;
  durationS: number;
  callsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** A self-signed certificate for 127.0.0.1, made by openssl in `dir` (the bench's temp dir). */
export function makeBenchCert(dir: string): { cert: string; key: string } | null {
  const cert = join(dir, 'bench-cert.pem');
  const key = join(dir, 'bench-key.pem');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return r.status === 0 && existsSync(cert) ? { cert, key } : null;
}

/**
 * One unary call over HTTP/2 to `origin` (http: prior-knowledge h2c; https: TLS with `ca`),
 * 100 B echoed and an OK status, or why not. gRPC-Web carries its status in a trailer frame of
 * the body, native gRPC in HTTP/2 trailers. Bounded: 5 s.
 */
export async function probeH2(origin: string, contentType: string, frame: Buffer, ca?: string): Promise<string | null> {
  let session: ClientHttp2Session | undefined;
  const attempt = new Promise<string | null>((resolve) => {
    session = connect(origin, ca ? { ca: readFileSync(ca) } : {});
    const failed = (e: Error): void => resolve(`no HTTP/2 answer (${e.message.replace(/\s+/g, ' ').trim().slice(0, 160)})`);
    session.on('error', failed);
    const req = session.request({ ':method': 'POST', ':path': UNARY_METHOD, 'content-type': contentType, te: 'trailers', 'x-grpc-web': '1' });
    req.on('error', failed);
    let status = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      grpcStatus = h['grpc-status'] as string | undefined;
    });
    req.on('trailers', (t) => (grpcStatus = (t['grpc-status'] as string | undefined) ?? grpcStatus));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const echoed = body.length >= frame.length && body.subarray(0, frame.length).equals(frame);
      const trailer = body.subarray(frame.length).toString('latin1');
      if (contentType !== CT_GRPC && /grpc-status:\s*(\d+)/.test(trailer)) grpcStatus = /grpc-status:\s*(\d+)/.exec(trailer)![1];
      if (status === 200 && echoed && grpcStatus === '0') resolve(null);
      else resolve(`HTTP ${status}, grpc-status ${grpcStatus ?? 'none'}${echoed ? '' : ', message not echoed'}`);
    });
    req.end(frame);
  });
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000).unref());
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    session?.close();
    session?.destroy(undefined, constants.NGHTTP2_NO_ERROR);
  }
}

/**
 * h2load: one connection, `concurrency` streams in flight, for `durationS` after a 1 s warm-up,
 * posting `bodyFile` with `contentType`. Latencies from its per-request log. `at`: on one CPU.
 */
export async function h2load(
  url: string,
  bodyFile: string,
  contentType: string,
  concurrency: number,
  durationS: number,
  logFile: string,
  at?: Placement,
): Promise<H2LoadResult> {
  rmSync(logFile, { force: true });
  const args = ['-c1', '-t1', `-m${concurrency}`, `-D${durationS}`, '--warm-up-time=1'];
  args.push('-d', bodyFile, '-H', `content-type: ${contentType}`, '-H', 'te: trailers');
  if (contentType !== CT_GRPC) args.push('-H', 'x-grpc-web: 1');
  args.push(`--log-file=${logFile}`, url);
  const res = await runTool(...pinnedCommand(at, 'h2load', args), (durationS + 60) * 1000, undefined, at?.onSpawn);
  const succeeded = /(\d+) succeeded/.exec(res.stdout);
  const failed = /(\d+) failed, (\d+) errored, (\d+) timeout/.exec(res.stdout);
  if (!succeeded || !existsSync(logFile)) throw new Error(`h2load: ${res.stdout}${res.stderr}`.slice(-1500));
  // Per-request log: start (µs since epoch), status, duration (µs). Throughput over the main
  // duration only (the log also covers the warm-up).
  const rows = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number));
  const lat = rows.filter((r) => r[1] === 200).map((r) => r[2]! / 1000).sort((a, b) => a - b);
  const calls = Number(succeeded[1]);
  return {
    calls,
    durationS,
    callsPerS: calls / durationS,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    errors: failed ? Number(failed[1]) + Number(failed[2]) + Number(failed[3]) : 0,
  };
}
