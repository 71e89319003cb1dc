/**
 * gRPC-Web request content types (PROTOCOL-WEB.md):
 *   application/grpc-web[+codec]       binary frames
 *   application/grpc-web-text[+codec]  the same frames, base64-encoded
 * and native gRPC (PROTOCOL-HTTP2.md), passed through over HTTP/2 only:
 *   application/grpc[+codec]           'native'
 * The codec defaults to "proto". Anything else (text/plain, ...) is not ours.
 */
export type WebMode = 'binary' | 'text' | 'native';

export interface WebContentType {
  mode: WebMode;
  /** 'proto' when absent; e.g. 'json' for application/grpc-web+json. Always lower-case. */
  codec: string;
  /**
   * Content-type to answer with: the request's base type, lower-cased, parameters dropped
   * (clients match the response type against what they sent, so mirror it rather than normalise).
   */
  response: string;
}

const BINARY_PREFIX = 'application/grpc-web';
const TEXT_PREFIX = 'application/grpc-web-text';
const NATIVE_PREFIX = 'application/grpc';

function make(mode: WebMode, codec: string, response: string): WebContentType {
  return Object.freeze({ mode, codec, response });
}

// The four spellings real clients send, answered without touching the cache map or allocating.
const BINARY = make('binary', 'proto', 'application/grpc-web');
const BINARY_PROTO = make('binary', 'proto', 'application/grpc-web+proto');
const TEXT = make('text', 'proto', 'application/grpc-web-text');
const TEXT_PROTO = make('text', 'proto', 'application/grpc-web-text+proto');
const NATIVE = make('native', 'proto', 'application/grpc');
const NATIVE_PROTO = make('native', 'proto', 'application/grpc+proto');

const PLAIN: Record<WebMode, WebContentType> = { binary: BINARY, text: TEXT, native: NATIVE };
const PROTO: Record<WebMode, WebContentType> = { binary: BINARY_PROTO, text: TEXT_PROTO, native: NATIVE_PROTO };

/**
 * Raw header value → parse result (null included). Bounded: it only ever holds the handful of
 * spellings a deployment's clients use; once full we stop inserting (no eviction bookkeeping),
 * so a client sending random content types cannot grow memory.
 */
const CACHE_LIMIT = 64;
const cache = new Map<string, WebContentType | null>();

/** RFC 7230 token characters, used to validate the codec suffix. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

/** gRPC-Web only: null for native gRPC too (the one a browser's $httpHeaders may name). */
export function parseWebContentType(value: string | undefined): WebContentType | null {
  const parsed = parseContentType(value);
  return parsed !== null && parsed.mode === 'native' ? null : parsed;
}

/** gRPC-Web or native gRPC; null for anything else. */
export function parseContentType(value: string | undefined): WebContentType | null {
  if (value === undefined) return null;
  // Exact-match fast path for what the official client, connect-web and protobuf-ts send.
  switch (value) {
    case 'application/grpc-web':
      return BINARY;
    case 'application/grpc-web+proto':
      return BINARY_PROTO;
    case 'application/grpc-web-text':
      return TEXT;
    case 'application/grpc-web-text+proto':
      return TEXT_PROTO;
    case 'application/grpc':
      return NATIVE;
    case 'application/grpc+proto':
      return NATIVE_PROTO;
  }
  const cached = cache.get(value);
  if (cached !== undefined) return cached;
  const parsed = parseSlow(value);
  if (cache.size < CACHE_LIMIT) cache.set(value, parsed);
  return parsed;
}

function parseSlow(value: string): WebContentType | null {
  const semi = value.indexOf(';');
  const base = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  let mode: WebMode;
  let rest: string;
  if (base.startsWith(TEXT_PREFIX)) {
    mode = 'text';
    rest = base.slice(TEXT_PREFIX.length);
  } else if (base.startsWith(BINARY_PREFIX)) {
    mode = 'binary';
    rest = base.slice(BINARY_PREFIX.length);
  } else if (base.startsWith(NATIVE_PREFIX)) {
    mode = 'native';
    rest = base.slice(NATIVE_PREFIX.length);
  } else {
    return null;
  }
  if (rest === '') return PLAIN[mode];
  // Only "+codec" may follow; this also rejects e.g. application/grpc-webfoo.
  if (rest.charCodeAt(0) !== 0x2b /* + */ || rest.length === 1) return null;
  const codec = rest.slice(1);
  for (let i = 0; i < codec.length; i++) {
    const c = codec.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return null;
  }
  if (codec === 'proto') return PROTO[mode];
  return make(mode, codec, base);
}
