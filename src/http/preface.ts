// Cleartext HTTP/1.1 and HTTP/2 (h2c with prior knowledge) on one port: a connection is HTTP/2
// exactly when it opens with HTTP/2's connection preface (RFC 9113, 3.4). No HTTP/1.1 request can
// start that way ("PRI" is no method anyone uses), so the first byte that differs decides.
import type { Socket } from 'node:net';

export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Reads the first bytes of `socket` until they tell HTTP/2 from HTTP/1.1, puts them back
 * (`unshift`) and calls `decided` with the socket paused, for the server that speaks the protocol
 * to take it. A client that has not decided within `timeoutMs` (a preface trickled byte by byte,
 * or nothing at all) is disconnected, as a slow HTTP/1.1 request line would be.
 */
export function awaitPreface(socket: Socket, timeoutMs: number, decided: (http2: boolean) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onClose);
  };
  const onData = (chunk: Buffer): void => {
    const seen = head.length;
    const n = Math.min(chunk.length, HTTP2_PREFACE.length - seen);
    const same = HTTP2_PREFACE.compare(chunk, 0, n, seen, seen + n) === 0;
    head = seen === 0 ? chunk : Buffer.concat([head, chunk]);
    if (same && head.length < HTTP2_PREFACE.length) return;
    done();
    socket.pause();
    socket.unshift(head);
    decided(same);
  };
  // The connection ended (or failed) before saying what it is: nothing to answer.
  const onError = (): void => {
    done();
    socket.destroy();
  };
  const onClose = (): void => done();
  const timer = setTimeout(onError, timeoutMs);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
}
