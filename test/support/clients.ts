// Real gRPC-Web clients we did not write, running in Node (Node 20 has fetch):
//  - connect-web's gRPC-Web transport (binary) with the protoc-gen-es schemas,
//  - protobuf-ts's GrpcWebFetchTransport (text or binary) with its generated EchoServiceClient.
// `nodeClient(kind, baseUrl)` wraps each in the same small interface, with results shaped like the
// browser page's (test/support/browser.ts), so e2e tests can loop over every client.
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { GrpcWebFetchTransport, GrpcStatusCode } from '@protobuf-ts/grpcweb-transport';
import { RpcError, type RpcMetadata } from '@protobuf-ts/runtime-rpc';
import { EchoService } from '../gen/es/echo_pb.js';
import { EchoServiceClient } from '../gen/pbts/echo.client.js';

export { Code } from '@connectrpc/connect';

/** A `fetch` other than Node's (HTTP/1.1): e.g. HTTP/2 through undici's allowH2, or h2c (h2c-fetch.ts). */
export type Fetch = typeof globalThis.fetch;

export function connectEcho(baseUrl: string, fetch?: Fetch): Client<typeof EchoService> {
  return createClient(EchoService, createGrpcWebTransport({ baseUrl, useBinaryFormat: true, fetch }));
}

export function pbtsEcho(baseUrl: string, format: 'text' | 'binary', fetch?: Fetch): EchoServiceClient {
  return new EchoServiceClient(new GrpcWebFetchTransport({ baseUrl, format, fetch }));
}

// ---- one shape for every client ----------------------------------------------------------------

export type ClientKind = 'connect' | 'pbts-text' | 'pbts-binary';
export const NODE_CLIENTS: readonly ClientKind[] = ['connect', 'pbts-text', 'pbts-binary'];

/** Request fields; absent ones are proto3 defaults. */
export interface EchoReq {
  message?: string;
  payload?: Uint8Array;
  statusCode?: number;
  statusMessage?: string;
  delayMs?: number;
  responseSize?: number;
}
export interface StreamReq {
  count?: number;
  intervalMs?: number;
  payloadSize?: number;
  failAfter?: number;
  statusCode?: number;
  statusMessage?: string;
}
export interface EchoMsg {
  message: string;
  payload: Uint8Array;
  pod: string;
  index: number;
}
export interface CallOptions {
  /** Request metadata; `-bin` values are base64 text, as on the wire. */
  metadata?: Record<string, string>;
  /** Sent as grpc-timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Streams only: called with each message as it arrives. */
  onMessage?: (m: EchoMsg, index: number) => void;
}
export interface CallResult {
  ok: boolean;
  /** Unary only. */
  response?: EchoMsg;
  /** Streams only, in order. */
  messages: EchoMsg[];
  /** ms since the call started at which each stream message arrived. */
  arrivals: number[];
  /** Response headers / trailers, lower-case names; `-bin` values stay base64 text. */
  headers: Record<string, string>;
  trailers: Record<string, string>;
  status: { code: number; details: string };
}
export interface EchoClient {
  /** A ClientKind, or 'browser-text' / 'browser-binary' (test/support/browser.ts). */
  kind: string;
  unary(req: EchoReq, opts?: CallOptions): Promise<CallResult>;
  stream(req: StreamReq, opts?: CallOptions): Promise<CallResult>;
}

export function nodeClient(kind: ClientKind, baseUrl: string, fetch?: Fetch): EchoClient {
  return kind === 'connect' ? connectClient(baseUrl, fetch) : pbtsClient(baseUrl, kind === 'pbts-text' ? 'text' : 'binary', fetch);
}

function headersToRecord(h: Headers | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  h?.forEach((v, k) => (out[k.toLowerCase()] = v));
  return out;
}

function connectClient(baseUrl: string, fetch?: Fetch): EchoClient {
  const client = connectEcho(baseUrl, fetch);
  type ConnectOpts = {
    headers?: Record<string, string>;
    timeoutMs?: number;
    signal?: AbortSignal;
    onHeader: (h: Headers) => void;
    onTrailer: (h: Headers) => void;
  };
  const run = async (
    opts: CallOptions,
    call: (o: ConnectOpts, messages: EchoMsg[], arrivals: number[]) => Promise<EchoMsg | undefined>,
  ): Promise<CallResult> => {
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    const messages: EchoMsg[] = [];
    const arrivals: number[] = [];
    try {
      const response = await call(
        {
          headers: opts.metadata,
          timeoutMs: opts.timeoutMs,
          signal: opts.signal,
          onHeader: (h) => (headers = headersToRecord(h)),
          onTrailer: (h) => (trailers = headersToRecord(h)),
        },
        messages,
        arrivals,
      );
      return { ok: true, response, messages, arrivals, headers, trailers, status: { code: 0, details: '' } };
    } catch (e) {
      const err = ConnectError.from(e);
      // connect merges headers and trailers into err.metadata when a call fails.
      const meta = headersToRecord(err.metadata);
      return {
        ok: false,
        messages,
        arrivals,
        headers: Object.keys(headers).length > 0 ? headers : meta,
        trailers: Object.keys(trailers).length > 0 ? trailers : meta,
        status: { code: err.code as number, details: err.rawMessage },
      };
    }
  };
  return {
    kind: 'connect',
    unary: (req, opts = {}) => run(opts, async (o) => plain(await client.echo(req, o))),
    stream: (req, opts = {}) =>
      run(opts, async (o, messages, arrivals) => {
        const t0 = performance.now();
        for await (const m of client.serverStream(req, o)) {
          arrivals.push(performance.now() - t0);
          messages.push(plain(m));
          opts.onMessage?.(plain(m), messages.length - 1);
        }
        return undefined;
      }),
  };
}

function plain(m: { message: string; payload: Uint8Array; pod: string; index: number }): EchoMsg {
  return { message: m.message, payload: m.payload, pod: m.pod, index: m.index };
}

function metaToRecord(m: RpcMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * grpc-message is percent-encoded on the wire (gRPC spec); connect and grpc-web decode it, but
 * protobuf-ts 2.11 hands it over raw. Decode it here so every client reports the same text.
 */
export function decodeGrpcMessage(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function pbtsCode(code: string): number {
  const n = (GrpcStatusCode as unknown as Record<string, number>)[code];
  if (typeof n === 'number') return n;
  const parsed = Number(code);
  return Number.isInteger(parsed) ? parsed : Code.Unknown;
}

function pbtsClient(baseUrl: string, format: 'text' | 'binary', fetch?: Fetch): EchoClient {
  const client = pbtsEcho(baseUrl, format, fetch);
  const kind: ClientKind = format === 'text' ? 'pbts-text' : 'pbts-binary';
  const rpcOptions = (opts: CallOptions) => ({ meta: opts.metadata ?? {}, timeout: opts.timeoutMs, abort: opts.signal });
  const fail = (e: unknown, headers: Record<string, string>, messages: EchoMsg[], arrivals: number[]): CallResult => {
    if (!(e instanceof RpcError)) throw e;
    const meta = metaToRecord(e.meta);
    return {
      ok: false,
      messages,
      arrivals,
      headers: Object.keys(headers).length > 0 ? headers : meta,
      trailers: meta,
      status: { code: pbtsCode(e.code), details: decodeGrpcMessage(e.message) },
    };
  };
  return {
    kind,
    async unary(req, opts = {}) {
      const call = client.echo(
        {
          message: req.message ?? '',
          payload: req.payload ?? new Uint8Array(),
          statusCode: req.statusCode ?? 0,
          statusMessage: req.statusMessage ?? '',
          delayMs: req.delayMs ?? 0,
          responseSize: req.responseSize ?? 0,
        },
        rpcOptions(opts),
      );
      let headers: Record<string, string> = {};
      call.headers.then((h) => (headers = metaToRecord(h)), () => undefined);
      try {
        const [h, response, status, trailers] = await Promise.all([call.headers, call.response, call.status, call.trailers]);
        return {
          ok: true,
          response: plain(response),
          messages: [],
          arrivals: [],
          headers: metaToRecord(h),
          trailers: metaToRecord(trailers),
          status: { code: pbtsCode(status.code), details: decodeGrpcMessage(status.detail) },
        };
      } catch (e) {
        return fail(e, headers, [], []);
      }
    },
    async stream(req, opts = {}) {
      const t0 = performance.now();
      const call = client.serverStream(
        {
          count: req.count ?? 0,
          intervalMs: req.intervalMs ?? 0,
          payloadSize: req.payloadSize ?? 0,
          failAfter: req.failAfter ?? 0,
          statusCode: req.statusCode ?? 0,
          statusMessage: req.statusMessage ?? '',
        },
        rpcOptions(opts),
      );
      let headers: Record<string, string> = {};
      call.headers.then((h) => (headers = metaToRecord(h)), () => undefined);
      const messages: EchoMsg[] = [];
      const arrivals: number[] = [];
      try {
        for await (const m of call.responses) {
          arrivals.push(performance.now() - t0);
          messages.push(plain(m));
          opts.onMessage?.(plain(m), messages.length - 1);
        }
        const [h, status, trailers] = await Promise.all([call.headers, call.status, call.trailers]);
        return {
          ok: true,
          messages,
          arrivals,
          headers: metaToRecord(h),
          trailers: metaToRecord(trailers),
          status: { code: pbtsCode(status.code), details: decodeGrpcMessage(status.detail) },
        };
      } catch (e) {
        return fail(e, headers, messages, arrivals);
      }
    },
  };
}

// ---- small helpers ------------------------------------------------------------------------------

/** Drains an async iterable (e.g. a connect server stream) into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Standard base64 of bytes (for `-bin` metadata values). */
export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Decodes a `-bin` header value (padded or not, possibly several comma-separated values joined). */
export function fromB64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** The Pod that served a call: from the `pod` field, else the x-pod response header. */
export function podOf(r: Pick<CallResult, 'response' | 'headers'>): string | undefined {
  return r.response?.pod ?? r.headers['x-pod'];
}
