// Raw HTTP/2 frames (RFC 9113) for tests that must send what no well-behaved client library sends:
// floods of SETTINGS or PING, HEADERS each followed by RST_STREAM (rapid reset), streams past the
// announced limit. Header blocks use HPACK literals without indexing or Huffman (RFC 7541, 6.2.2).
import { connect, type Socket } from 'node:net';
import { HTTP2_PREFACE } from '../../src/http/preface.js';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541, 5.1). */
function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7, 0), bytes]);
}

/** A header block of literal fields, never indexed by either side. */
export function headerBlock(headers: Array<[string, string]>): Buffer {
  return Buffer.concat(headers.map(([name, value]) => Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)])));
}

/** A gRPC-Web POST's HEADERS frame (END_HEADERS; END_STREAM if `endStream`). */
export function grpcWebHeaders(streamId: number, path: string, endStream = false): Buffer {
  const block = headerBlock([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':authority', 'gateway'],
    [':path', path],
    ['content-type', 'application/grpc-web+proto'],
  ]);
  return frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), streamId, block);
}

export function rstStream(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export const emptySettings = (): Buffer => frame(FRAME.SETTINGS, 0, 0);
export const ping = (n: number): Buffer => {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(n >>> 0, 4);
  return frame(FRAME.PING, 0, 0, payload);
};

/** Frames as received: type, flags, stream id, payload. */
export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Splits the bytes a server sent into frames (whole frames only; a partial tail is ignored). */
export function parseFrames(bytes: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    if (at + 9 + length > bytes.length) break;
    out.push({ type: bytes[at + 3]!, flags: bytes[at + 4]!, streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return out;
}

export interface RawH2 {
  socket: Socket;
  /** Everything received so far. */
  received(): Buffer;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
}

/** A TCP connection that has sent the client preface and an empty SETTINGS frame, and records what comes back. */
export function rawH2c(host: string, port: number, opts: { read?: boolean } = {}): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, host, () => {
      socket.write(Buffer.concat([HTTP2_PREFACE, emptySettings()]));
      resolve({ socket, received: () => Buffer.concat(chunks), closed });
    });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => {});
    socket.once('error', reject);
    if (opts.read !== false) socket.on('data', (d: Buffer) => chunks.push(d));
  });
}

/** The GOAWAY the server sent, if any: its error code. */
export function goawayCode(bytes: Buffer): number | null {
  const g = parseFrames(bytes).find((f) => f.type === FRAME.GOAWAY);
  return g ? g.payload.readUInt32BE(4) : null;
}
