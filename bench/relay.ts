// A reference point, not a product: the bare floor of one Node HTTP/2 hop for native gRPC. A
// node:http2 server whose every stream becomes a stream on ONE node:http2 client session to the
// backend, bytes forwarded both ways as they arrive (with backpressure), response headers forwarded as soon as they
// arrive, trailers forwarded, and a reset on either side passed to the other. The bench runs a
// grpc-js client through it beside the gateway, in the same rounds, so the gateway's native gRPC
// figure can be read against what any Node HTTP/2 hop costs that client ("gateway ÷ relay").
//
// Left out on purpose, because each is work the gateway does and the floor must not: routing,
// balancing, admission and limits, metadata other than the headers below, compression, retries,
// drain, metrics and logs, TLS. Forwarded: :method, :path, content-type, te and grpc-timeout up;
// content-type and then grpc-status and grpc-message (as trailers, or a trailers-only answer) down.
//
//   node --import tsx bench/relay.ts --target 127.0.0.1:50051 --port 0
//
// prints {"ready":true,"port":N}; exits on SIGTERM/SIGINT.
import {
  connect,
  constants,
  createServer,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { listenAndAnnounce } from './lib/announce.js';

const { values } = parseArgs({ options: { target: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.target) throw new Error('--target HOST:PORT is required');
const origin = `http://${values.target}`;

const UP_HEADERS = ['content-type', 'te', 'grpc-timeout'] as const;
const STATUS_HEADERS = ['grpc-status', 'grpc-message'] as const;
const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = constants;

let session: ClientHttp2Session | null = null;
/** The one upstream session; made again only after the last one closed (backend restarted). */
function upstream(): ClientHttp2Session {
  if (session === null || session.closed || session.destroyed) {
    const s = connect(origin);
    s.on('error', () => {}); // every stream on it sees the failure and resets its client stream
    s.on('close', () => {
      if (session === s) session = null;
    });
    session = s;
  }
  return session;
}

function pick(from: IncomingHttpHeaders, names: readonly string[], into: OutgoingHttpHeaders): OutgoingHttpHeaders {
  for (const n of names) if (from[n] !== undefined) into[n] = from[n];
  return into;
}

const wasReset = (s: ClientHttp2Stream | ServerHttp2Stream): boolean => s.rstCode !== undefined && s.rstCode !== NGHTTP2_NO_ERROR;
const ignore = (): void => {};

/**
 * Every chunk of `from` written to `to` as it arrives, paused while `to` is full. Not
 * stream.pipe(), which adds several listeners and its own bookkeeping to every stream: the
 * relay is meant to be the floor, so it carries only what forwarding needs.
 */
function forward(from: Readable, to: Writable): void {
  const resume = (): void => void from.resume();
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  });
}

function relay(down: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const out: ClientHttp2Stream = upstream().request(
    pick(headers, UP_HEADERS, { ':method': headers[':method'], ':path': headers[':path'] }),
  );
  forward(down, out);
  down.on('end', () => out.end());
  let trailers: OutgoingHttpHeaders = {};
  let answering = false;
  out.on('response', (h) => {
    if (down.closed) return;
    const answer = pick(h, ['content-type'], { ':status': h[':status'] });
    if (h['grpc-status'] !== undefined) {
      // Trailers-only (a call that fails before any message): one HEADERS frame, as the Pod sent it.
      down.respond(pick(h, STATUS_HEADERS, answer), { endStream: true });
      return;
    }
    down.respond(answer, { waitForTrailers: true });
    answering = true;
    forward(out, down);
  });
  out.on('trailers', (t) => (trailers = pick(t, STATUS_HEADERS, {})));
  down.on('wantTrailers', () => down.sendTrailers(trailers));
  // A reset or failure on one side resets the other; a clean close (code 0) of either does not.
  // node:http2 ends a stream reset with CANCEL ('end' before 'close', rstCode already set): that
  // must not become a clean end downstream.
  out.on('end', () => {
    if (!answering || down.closed) return;
    if (wasReset(out)) down.close(out.rstCode);
    else down.end();
  });
  out.on('close', () => {
    if (down.closed) return;
    if (wasReset(out)) down.close(out.rstCode);
    else if (!down.headersSent) down.close(NGHTTP2_INTERNAL_ERROR); // upstream ended without an answer
  });
  down.on('close', () => {
    if (!out.closed && wasReset(down)) out.close(NGHTTP2_CANCEL);
  });
  // Stream errors are the resets above; without a listener they would end the process.
  out.on('error', ignore);
  down.on('error', ignore);
}

const server = createServer();
server.on('stream', relay);
server.on('sessionError', () => {});
listenAndAnnounce(server, Number(values.port));
