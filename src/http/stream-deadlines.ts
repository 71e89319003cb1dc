// --request-timeout for HTTP/2: the time a client has to send a whole request, counted per stream.
// Node enforces it on HTTP/1.1 connections only. A stream whose client has not finished sending
// in time is reset (RST_STREAM CANCEL): the exchange on it sees the stream close and cancels its
// upstream call, and the connection's other streams go on. Checked by one sweep, as Node checks
// HTTP/1.1 connections, so a stream costs a map entry and no timer of its own. The entry goes when
// the stream closes, not at the next sweep: a busy connection ends thousands of streams between
// sweeps, and the map would keep each of them (and what it references) alive until then.
import { constants, type ServerHttp2Stream } from 'node:http2';

export class StreamDeadlines {
  private readonly started = new Map<ServerHttp2Stream, number>();
  private readonly timer: NodeJS.Timeout;
  /** A 'close' listener shared by every stream (an emitter calls it with the stream as `this`). */
  private readonly forget: (this: ServerHttp2Stream) => void;

  constructor(private readonly timeoutMs: number, sweepMs: number) {
    const started = this.started;
    this.forget = function (this: ServerHttp2Stream) {
      started.delete(this);
    };
    this.timer = setInterval(this.sweep, sweepMs);
    // Never what keeps a process alive.
    this.timer.unref();
  }

  /** A new stream whose request has a body still to come. */
  watch(stream: ServerHttp2Stream): void {
    this.started.set(stream, performance.now());
    stream.on('close', this.forget);
  }

  stop(): void {
    clearInterval(this.timer);
    this.started.clear();
  }

  private readonly sweep = (): void => {
    const expired = performance.now() - this.timeoutMs;
    for (const [stream, at] of this.started) {
      if (stream.closed || stream.destroyed || stream.state.remoteClose) {
        this.started.delete(stream);
      } else if (at <= expired) {
        this.started.delete(stream);
        stream.close(constants.NGHTTP2_CANCEL);
      }
    }
  };
}
