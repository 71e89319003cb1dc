/**
 * HTTP/1.1 headers ↔ gRPC metadata. Like Envoy, everything that is not transport-level is
 * forwarded (origin, authorization, custom metadata...); only hop-by-hop headers, headers
 * describing the HTTP/1 body, and the gRPC protocol's own headers are dropped here. Cookies and
 * forwarding headers follow the rules in ./browser-headers.ts, applied by the front end.
 */

export class HeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeaderError';
  }
}

/** RFC 9110 §7.6.1 hop-by-hop headers (plus the legacy ones proxies still meet). */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
];

const NOT_FORWARDED_REQUEST = new Set([
  ...HOP_BY_HOP,
  'host', // becomes :authority, set by grpc-js from the channel target
  'content-length', // describes the HTTP/1 body, not the gRPC stream
  'content-type', // the upstream request is always application/grpc
  'content-encoding', // ditto: message compression is grpc-encoding, per frame
  'accept-encoding', // HTTP/1 response compression is between browser and gateway
  'expect', // 100-continue is an HTTP/1 exchange
  'user-agent', // grpc-js sets its own
  'x-grpc-web', // marker for gateways, meaningless upstream
]);

/**
 * Request header names never forwarded to the upstream as metadata. Also every "grpc-*" name
 * (grpc-timeout is read separately; grpc-encoding etc. belong to the upstream hop) and ':'
 * pseudo-headers. Names starting with "proxy-" are dropped too (credentials meant for a proxy).
 */
export function isForwardableRequestHeader(lowerCaseName: string): boolean {
  const c = lowerCaseName.charCodeAt(0);
  if (c === 0x3a /* : */) return false;
  if (c === 0x67 /* g */ && lowerCaseName.startsWith('grpc-')) return false;
  if (c === 0x70 /* p */ && lowerCaseName.startsWith('proxy-')) return false;
  return !NOT_FORWARDED_REQUEST.has(lowerCaseName);
}

/**
 * gRPC metadata keys are restricted to [0-9a-z_.-] (grpc-js throws on anything else), while
 * HTTP/1 token names allow more ('!', '#', '~'...). The caller should check this before handing a
 * request header to grpc-js Metadata, to drop or reject it instead of crashing the call.
 */
const METADATA_KEY = new Uint8Array(128);
for (const ch of '0123456789abcdefghijklmnopqrstuvwxyz_.-') METADATA_KEY[ch.charCodeAt(0)] = 1;

export function isValidMetadataKey(lowerCaseName: string): boolean {
  if (lowerCaseName.length === 0) return false;
  for (let i = 0; i < lowerCaseName.length; i++) {
    const c = lowerCaseName.charCodeAt(i);
    if (c >= 128 || METADATA_KEY[c] === 0) return false;
  }
  return true;
}

const NOT_FORWARDED_RESPONSE = new Set([
  ...HOP_BY_HOP,
  'content-length', // the gateway re-frames the body
  'content-type', // the gateway answers with the gRPC-Web type
  'content-encoding',
  'date', // Node writes the gateway's own
  // The gateway's CORS answer is made for this request's Origin: a Pod's Vary would replace the
  // "Vary: Origin" that keeps a shared cache from serving one origin's answer to another (see
  // mergeVary for how a Pod's Vary is added to it instead).
  'vary',
  'grpc-status', // written by the gateway itself (trailer frame or trailers-only headers)
  'grpc-message',
  // grpc-js has already decompressed the messages: advertising the upstream's compression to the
  // browser would make it try to decompress plain frames.
  'grpc-encoding',
  'grpc-accept-encoding',
]);

/**
 * Upstream response metadata names that must not become HTTP/1.1 response headers (nor trailer
 * frame lines): framing, the gRPC status, and every `access-control-*` name, because CORS is
 * answered by the gateway from its configuration, never by a Pod. `set-cookie` and the rest
 * (strict-transport-security, cache-control, custom metadata) are the application's and pass.
 */
export function isForwardableResponseHeader(lowerCaseName: string): boolean {
  const c = lowerCaseName.charCodeAt(0);
  if (c === 0x3a /* : */) return false;
  if (c === 0x70 /* p */ && lowerCaseName.startsWith('proxy-')) return false;
  if (c === 0x61 /* a */ && lowerCaseName.startsWith('access-control-')) return false;
  return !NOT_FORWARDED_RESPONSE.has(lowerCaseName);
}

/**
 * A Pod's Vary added after the gateway's: the response depends on both lists of request headers,
 * and the gateway's "Origin" must stay whatever the Pod says. Names already listed (any case)
 * are not repeated.
 */
export function mergeVary(gateway: string | undefined, pod: string | readonly string[]): string {
  const listed = new Set<string>();
  let out = '';
  const add = (value: string): void => {
    for (const part of value.split(',')) {
      const name = part.trim();
      const key = name.toLowerCase();
      if (name === '' || listed.has(key)) continue;
      listed.add(key);
      out = out === '' ? name : `${out}, ${name}`;
    }
  };
  if (gateway !== undefined) add(gateway);
  if (typeof pod === 'string') add(pod);
  else for (const value of pod) add(value);
  return out;
}

const ALWAYS_EXPOSED = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];
const ALWAYS_EXPOSED_VALUE = ALWAYS_EXPOSED.join(',');
const ALWAYS_EXPOSED_SET = new Set(ALWAYS_EXPOSED);

/**
 * access-control-expose-headers value: browsers hide every non-safelisted response header from
 * scripts unless listed, and gRPC-Web clients read status and metadata from headers. Duplicates
 * are dropped; with no metadata names the result is a constant string.
 */
export function exposeHeadersValue(metadataNames: Iterable<string>): string {
  let out = ALWAYS_EXPOSED_VALUE;
  let seen: Set<string> | undefined;
  for (const name of metadataNames) {
    if (ALWAYS_EXPOSED_SET.has(name)) continue;
    seen ??= new Set();
    if (seen.has(name)) continue;
    seen.add(name);
    out += ',' + name;
  }
  return out;
}

const HOP_BY_HOP_SET = new Set(HOP_BY_HOP);

/**
 * Extra hop-by-hop names listed in a Connection header ("connection: close, x-foo"), lower-cased.
 * Returns null when it lists nothing beyond the standard hop-by-hop names (which the is*Forwardable
 * functions already drop), so the common "keep-alive"/"close" costs the caller nothing.
 */
export function connectionListedHeaders(connectionHeaderValue: string | undefined): Set<string> | null {
  if (connectionHeaderValue === undefined || connectionHeaderValue === '') return null;
  const v = connectionHeaderValue.toLowerCase();
  if (v === 'keep-alive' || v === 'close' || v === 'upgrade') return null;
  let result: Set<string> | null = null;
  for (const part of v.split(',')) {
    const name = part.trim();
    if (name === '' || name === 'close' || HOP_BY_HOP_SET.has(name)) continue;
    (result ??= new Set()).add(name);
  }
  return result;
}

/** base64 alphabet (standard and URL-safe) for validating -bin values; Node's decoder skips junk silently. */
const B64 = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') B64[ch.charCodeAt(0)] = 1;

function decodeOneBinary(raw: string): Buffer {
  const s = raw.trim();
  let end = s.length;
  // Up to two '=' of padding, and then the total length must be a multiple of 4.
  while (end > 0 && s.charCodeAt(end - 1) === 0x3d && s.length - end < 2) end--;
  const padded = end < s.length;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || B64[c] === 0) throw new HeaderError(`invalid base64 in binary header value: ${JSON.stringify(s)}`);
  }
  if (end % 4 === 1 || (padded && s.length % 4 !== 0)) {
    throw new HeaderError(`invalid base64 length in binary header value: ${JSON.stringify(s)}`);
  }
  return Buffer.from(s, 'base64');
}

/**
 * Decodes a "-bin" header value: standard or URL-safe base64, padded or not (PROTOCOL-HTTP2.md
 * says senders omit padding, receivers accept both). Several values may have been joined with ','
 * when the header was repeated: each is decoded separately.
 */
export function decodeBinaryHeader(value: string): Buffer[] {
  if (value.indexOf(',') === -1) return [decodeOneBinary(value)];
  return value.split(',').map(decodeOneBinary);
}
