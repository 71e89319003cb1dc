// Telling h2c from HTTP/1.1 by the first bytes of a connection, over real loopback sockets: the
// decision at the first differing byte, however the bytes are split, and nothing lost on the way.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP2_PREFACE, awaitPreface } from '../../../src/http/preface.js';

let server: Server | null = null;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = null;
});

interface Outcome {
  http2: boolean | 'timed out';
  /** What the socket delivered after the decision, the bytes put back first. */
  bytes: Buffer;
}

/** Sends `chunks` one write (and one event-loop turn) apart and reports what awaitPreface decided. */
async function decide(chunks: Buffer[], timeoutMs = 2_000, expectBytes = Buffer.concat(chunks).length): Promise<Outcome> {
  let serverSide!: Socket;
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer((s) => resolve((serverSide = s)));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server!.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  const s = await accepted;
  const outcome = new Promise<Outcome>((resolve) => {
    awaitPreface(s, timeoutMs, (http2) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        got.push(d);
        if (Buffer.concat(got).length >= expectBytes) resolve({ http2, bytes: Buffer.concat(got) });
      });
      s.resume();
    });
    s.once('close', () => resolve({ http2: 'timed out', bytes: Buffer.alloc(0) }));
  });
  for (const c of chunks) {
    client.write(c);
    await new Promise((r) => setTimeout(r, 5));
  }
  const result = await outcome;
  client.destroy();
  serverSide.destroy();
  return result;
}

const bytesOf = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('awaitPreface', () => {
  it('the whole preface (and the SETTINGS frame after it) in one write: HTTP/2, every byte kept', async () => {
    const sent = Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
    const r = await decide([sent]);
    expect(r.http2).toBe(true);
    expect(r.bytes.equals(sent)).toBe(true);
  });

  it('the preface one byte per write: HTTP/2 only once all 24 bytes match', async () => {
    const r = await decide([...HTTP2_PREFACE].map((b) => Buffer.from([b])));
    expect(r.http2).toBe(true);
    expect(r.bytes.equals(HTTP2_PREFACE)).toBe(true);
  });

  it('an HTTP/1.1 request: decided at its first byte', async () => {
    const request = bytesOf('POST /echo.v1.EchoService/Echo HTTP/1.1\r\nhost: x\r\n\r\n');
    const r = await decide([request]);
    expect(r).toEqual({ http2: false, bytes: request });
  });

  it('bytes that follow the preface for a while and then differ are HTTP/1.1 (the "PRI" method is nobody\'s)', async () => {
    const r = await decide([bytesOf('PRI * HTTP/2.0\r\n'), bytesOf('\r\nXX')]);
    expect(r.http2).toBe(false);
    expect(r.bytes.toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nXX');
  });

  it('a client that has not decided within the timeout is disconnected', async () => {
    const started = Date.now();
    const r = await decide([bytesOf('PRI')], 300, Infinity);
    expect(r.http2).toBe('timed out');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
