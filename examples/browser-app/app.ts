// The official grpc-web runtime (GrpcWebClientBase + MethodDescriptor) in a browser page.
// There is no offline protoc-gen-grpc-web, so the MethodDescriptors are written by hand exactly as
// the generated *_grpc_web_pb.js would, with @bufbuild/protobuf (test/gen/es) doing the (de)serializing.
//
// For tests: window.grpcWebTest.{unary,stream}(baseUrl, request, options) → plain JSON results.
// For humans: index.html's "Call Echo" button spreads calls over the Pods and shows a count per Pod.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { GrpcWebClientBase, MethodDescriptor, MethodType, type Metadata, type RpcError, type Status } from 'grpc-web';
import {
  EchoRequestSchema,
  EchoResponseSchema,
  ServerStreamRequestSchema,
  type EchoRequest,
  type EchoResponse,
  type ServerStreamRequest,
} from '../../test/gen/es/echo_pb.js';

// grpc-web wants constructors for the request/response types; it never calls them here.
const EchoRequestType = Object as unknown as new () => EchoRequest;
const EchoResponseType = Object as unknown as new () => EchoResponse;
const ServerStreamRequestType = Object as unknown as new () => ServerStreamRequest;

const echoDescriptor = new MethodDescriptor<EchoRequest, EchoResponse>(
  '/echo.v1.EchoService/Echo',
  MethodType.UNARY,
  EchoRequestType,
  EchoResponseType,
  (request: EchoRequest) => toBinary(EchoRequestSchema, request),
  (bytes: Uint8Array) => fromBinary(EchoResponseSchema, bytes),
);

const serverStreamDescriptor = new MethodDescriptor<ServerStreamRequest, EchoResponse>(
  '/echo.v1.EchoService/ServerStream',
  MethodType.SERVER_STREAMING,
  ServerStreamRequestType,
  EchoResponseType,
  (request: ServerStreamRequest) => toBinary(ServerStreamRequestSchema, request),
  (bytes: Uint8Array) => fromBinary(EchoResponseSchema, bytes),
);

export interface BrowserCallOptions {
  /** 'text' = application/grpc-web-text (default; streams arrive incrementally), 'binary' = application/grpc-web+proto. */
  format?: 'text' | 'binary';
  metadata?: Record<string, string>;
  /** Sets the runtime's `deadline` metadata → grpc-timeout. */
  deadlineMs?: number;
  /** Headers travel in the $httpHeaders query parameter, so no CORS preflight is needed. */
  suppressCorsPreflight?: boolean;
  /** The XHR is sent with the browser's cookies for the gateway (the runtime's withCredentials). */
  withCredentials?: boolean;
  /** Streams only: cancel the call after this many messages. */
  cancelAfter?: number;
}

export interface JsonEcho {
  message: string;
  /** base64 */
  payload: string;
  payloadLength: number;
  pod: string;
  index: number;
}

export interface BrowserResult {
  ok: boolean;
  response?: JsonEcho;
  messages: JsonEcho[];
  /** ms since the call started at which each stream message arrived. */
  arrivals: number[];
  headers: Record<string, string>;
  trailers: Record<string, string>;
  status: { code: number; details: string; metadata: Record<string, string> };
  cancelled?: boolean;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function json(m: EchoResponse): JsonEcho {
  return { message: m.message, payload: toBase64(m.payload), payloadLength: m.payload.length, pod: m.pod, index: m.index };
}

function lower(md: Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md ?? {})) out[k.toLowerCase()] = String(v);
  return out;
}

function clientFor(opts: BrowserCallOptions): GrpcWebClientBase {
  return new GrpcWebClientBase({
    format: opts.format ?? 'text',
    suppressCorsPreflight: opts.suppressCorsPreflight ?? false,
    withCredentials: opts.withCredentials ?? false,
  });
}

function metadataFor(opts: BrowserCallOptions): Metadata {
  const md: Metadata = { ...(opts.metadata ?? {}) };
  if (opts.deadlineMs !== undefined) md['deadline'] = String(Date.now() + opts.deadlineMs);
  return md;
}

/** Request as JSON: `payload` is base64. */
export type JsonEchoRequest = Partial<Omit<EchoRequest, '$typeName' | '$unknown' | 'payload'>> & { payload?: string };

/**
 * grpc-web fires 'metadata' (response headers) only when the XHR completes, which for a failed call
 * is after 'status'/'error' and the callback. Wait for it, briefly, so results always carry headers.
 */
function afterMetadata(seen: () => boolean, then: () => void, maxWaitMs = 250): void {
  const t0 = performance.now();
  const poll = (): void => {
    if (seen() || performance.now() - t0 >= maxWaitMs) then();
    else setTimeout(poll, 5);
  };
  setTimeout(poll, 0);
}

function unary(baseUrl: string, req: JsonEchoRequest, opts: BrowserCallOptions = {}): Promise<BrowserResult> {
  const request = create(EchoRequestSchema, { ...req, payload: req.payload ? fromBase64(req.payload) : new Uint8Array() });
  return new Promise((resolve) => {
    let headers: Record<string, string> = {};
    let gotHeaders = false;
    let status: BrowserResult['status'] | undefined;
    const call = clientFor(opts).rpcCall(
      baseUrl.replace(/\/$/, '') + echoDescriptor.getName(),
      request,
      metadataFor(opts),
      echoDescriptor,
      (err: RpcError | null, response: EchoResponse) => {
        afterMetadata(() => gotHeaders, () => {
          if (err) {
            const st = status ?? { code: err.code, details: err.message, metadata: lower(err.metadata) };
            resolve({ ok: false, messages: [], arrivals: [], headers, trailers: st.metadata, status: { ...st, details: err.message } });
          } else {
            const st = status ?? { code: 0, details: '', metadata: {} };
            resolve({ ok: true, response: json(response), messages: [], arrivals: [], headers, trailers: st.metadata, status: st });
          }
        });
      },
    );
    call.on('metadata', (md: Metadata) => {
      headers = lower(md);
      gotHeaders = true;
    });
    call.on('status', (s: Status) => (status = { code: s.code, details: s.details, metadata: lower(s.metadata) }));
  });
}

export type JsonStreamRequest = Partial<Omit<ServerStreamRequest, '$typeName' | '$unknown'>>;

function stream(baseUrl: string, req: JsonStreamRequest, opts: BrowserCallOptions = {}): Promise<BrowserResult> {
  const request = create(ServerStreamRequestSchema, req);
  return new Promise((resolve) => {
    const t0 = performance.now();
    let headers: Record<string, string> = {};
    let gotHeaders = false;
    let status: BrowserResult['status'] | undefined;
    let error: RpcError | undefined;
    const messages: JsonEcho[] = [];
    const arrivals: number[] = [];
    let done = false;
    const finish = (cancelled = false): void => {
      if (done) return;
      done = true;
      afterMetadata(() => gotHeaders || cancelled, () => {
        const st = status ?? (error ? { code: error.code, details: error.message, metadata: lower(error.metadata) } : { code: 0, details: '', metadata: {} });
        resolve({ ok: !cancelled && !error && st.code === 0, messages, arrivals, headers, trailers: st.metadata, status: st, cancelled });
      });
    };
    const call = clientFor(opts).serverStreaming(
      baseUrl.replace(/\/$/, '') + serverStreamDescriptor.getName(),
      request,
      metadataFor(opts),
      serverStreamDescriptor,
    );
    call.on('metadata', (md: Metadata) => {
      headers = lower(md);
      gotHeaders = true;
    });
    call.on('data', (m: EchoResponse) => {
      arrivals.push(performance.now() - t0);
      messages.push(json(m));
      if (opts.cancelAfter !== undefined && messages.length >= opts.cancelAfter) {
        call.cancel();
        finish(true);
      }
    });
    call.on('status', (s: Status) => (status = { code: s.code, details: s.details, metadata: lower(s.metadata) }));
    call.on('error', (e: RpcError) => {
      error = e;
      finish();
    });
    call.on('end', () => finish());
  });
}

declare global {
  interface Window {
    grpcWebTest: { unary: typeof unary; stream: typeof stream; ready: true };
  }
}
window.grpcWebTest = { unary, stream, ready: true };

// ---- the page for humans ------------------------------------------------------------------------

function byId<T extends HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null;
}

function setupUi(): void {
  const button = byId<HTMLButtonElement>('run');
  if (!button) return;
  const gateway = byId<HTMLInputElement>('gateway')!;
  const count = byId<HTMLInputElement>('count')!;
  const format = byId<HTMLSelectElement>('format')!;
  const table = byId<HTMLTableSectionElement>('pods')!;
  const summary = byId<HTMLElement>('summary')!;
  gateway.value = new URLSearchParams(location.search).get('gateway') ?? location.origin;

  const perPod = new Map<string, number>();
  let errors = 0;
  const render = (): void => {
    table.replaceChildren(
      ...[...perPod.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([pod, n]) => {
          const tr = document.createElement('tr');
          for (const text of [pod, String(n)]) {
            const td = document.createElement('td');
            td.textContent = text;
            tr.append(td);
          }
          return tr;
        }),
    );
    const total = [...perPod.values()].reduce((a, b) => a + b, 0);
    summary.textContent = `${total} answered, ${errors} failed, ${perPod.size} Pods`;
  };

  byId<HTMLButtonElement>('reset')?.addEventListener('click', () => {
    perPod.clear();
    errors = 0;
    render();
  });
  button.addEventListener('click', async () => {
    button.disabled = true;
    const n = Math.max(1, Math.min(10_000, Number(count.value) || 1));
    for (let i = 0; i < n; i++) {
      const r = await unary(gateway.value, { message: `hello ${i}` }, { format: format.value === 'binary' ? 'binary' : 'text' });
      if (r.ok && r.response) perPod.set(r.response.pod, (perPod.get(r.response.pod) ?? 0) + 1);
      else errors++;
      if (i % 10 === 0 || i === n - 1) render();
    }
    button.disabled = false;
  });
  render();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setupUi);
else setupUi();
