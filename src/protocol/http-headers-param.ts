/**
 * The official grpc-web client's suppressCorsPreflight mode avoids the CORS preflight by moving
 * every request header (content-type and x-grpc-web included) into the "$httpHeaders" query
 * parameter. It is built by goog.net.rpc.HttpCors.generateHttpHeadersOverwriteParam as
 * `key + ':' + value + '\r\n'` for each header, no space after ':', then URL-encoded. The caller
 * URL-decodes it; this parses the decoded text.
 */
import { HeaderError } from './headers.js';

export const MAX_HTTP_HEADERS_PARAM_HEADERS = 100;

/** RFC 9110 token characters (valid header name characters). */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Returns [lower-cased name, value] pairs in order. Values are trimmed of surrounding spaces and
 * tabs (HTTP/1 optional whitespace). Lines may end in "\r\n" or a bare "\n"; empty lines are
 * skipped. Throws HeaderError on a line without ':', an invalid header name, a control character
 * in a value (it could never be a valid header), or more than 100 headers (rejected rather than
 * truncated, so no header is silently lost).
 */
export function parseHttpHeadersParam(value: string): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  let start = 0;
  const n = value.length;
  while (start < n) {
    let end = value.indexOf('\n', start);
    if (end === -1) end = n;
    let lineEnd = end;
    if (lineEnd > start && value.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    if (lineEnd > start) {
      if (result.length === MAX_HTTP_HEADERS_PARAM_HEADERS) {
        throw new HeaderError(`$httpHeaders carries more than ${MAX_HTTP_HEADERS_PARAM_HEADERS} headers`);
      }
      result.push(parseLine(value, start, lineEnd));
    }
    start = end + 1;
  }
  return result;
}

function parseLine(s: string, start: number, end: number): [string, string] {
  const colon = s.indexOf(':', start);
  if (colon === -1 || colon >= end) {
    throw new HeaderError(`$httpHeaders line without ':': ${JSON.stringify(s.slice(start, Math.min(end, start + 64)))}`);
  }
  if (colon === start) throw new HeaderError('$httpHeaders line with an empty header name');
  for (let i = start; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) {
      throw new HeaderError(`invalid header name in $httpHeaders: ${JSON.stringify(s.slice(start, colon))}`);
    }
  }
  let vs = colon + 1;
  let ve = end;
  while (vs < ve && isSpace(s.charCodeAt(vs))) vs++;
  while (ve > vs && isSpace(s.charCodeAt(ve - 1))) ve--;
  for (let i = vs; i < ve; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new HeaderError(`control character in $httpHeaders value of ${JSON.stringify(s.slice(start, colon))}`);
    }
  }
  return [s.slice(start, colon).toLowerCase(), s.slice(vs, ve)];
}
