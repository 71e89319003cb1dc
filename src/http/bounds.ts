// Gateway-wide bounds on what clients can make this process hold: calls in flight and request
// bytes buffered (per call admission), and client connections. Past a bound the gateway refuses
// instead of queueing, and says so in the log once per burst.
import type { Server, Socket } from 'node:net';
interface WarnLogger {
  warn(fields: object, message: string): void;
}

/** How often, at most, a bound that keeps being hit logs how many it refused since its last line. */
export const BURST_SUMMARY_MS = 5_000;

/**
 * Logs the refusals of one bound once per burst, never once per refusal: a refusal costs the
 * gateway next to nothing, a log line per refusal would not (an overload would turn into a log
 * flood). One warn line when the bound is first hit, then one summary per interval while
 * refusals go on; an interval without refusals ends the burst (the next refusal starts one).
 */
export class BurstLog {
  private refused = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: WarnLogger,
    /** The setting, e.g. "max-concurrent-calls". */
    private readonly bound: string,
    private readonly limit: number,
    private readonly what: string,
    private readonly intervalMs = BURST_SUMMARY_MS,
  ) {}

  hit(): void {
    if (this.timer !== null) {
      this.refused++;
      return;
    }
    this.log.warn({ bound: this.bound, limit: this.limit }, `${this.bound} (${this.limit}) reached: refusing ${this.what}`);
    this.schedule();
  }

  /** Stop the summary timer (the server is closing). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.refused = 0;
  }

  private schedule(): void {
    this.timer = setTimeout(this.summarize, this.intervalMs);
    // Never what keeps a process alive.
    this.timer.unref();
  }

  private readonly summarize = (): void => {
    this.timer = null;
    if (this.refused === 0) return;
    const refused = this.refused;
    this.refused = 0;
    this.log.warn(
      { bound: this.bound, limit: this.limit, refused, intervalMs: this.intervalMs },
      `${this.bound} (${this.limit}): ${refused} ${this.what} refused in the last ${this.intervalMs / 1000} s`,
    );
    this.schedule();
  };
}

export interface BoundsLimits {
  /** 0 = no bound. */
  maxConcurrentCalls: number;
  /** 0 = no bound. */
  maxBufferedRequestBytes: number;
}

/**
 * The per-process call bounds. Every call takes a slot for its whole life (streams included)
 * and reserves its request body bytes as they arrive; both are given back when it ends. The
 * bytes are held that long because the request message is kept for transparent retry until the
 * call ends.
 */
export class CallBounds {
  private calls = 0;
  private bytes = 0;
  private readonly maxCalls: number;
  private readonly maxBytes: number;
  private readonly callsLog: BurstLog;
  private readonly bytesLog: BurstLog;

  constructor(limits: BoundsLimits, log: WarnLogger) {
    this.maxCalls = limits.maxConcurrentCalls > 0 ? limits.maxConcurrentCalls : Infinity;
    this.maxBytes = limits.maxBufferedRequestBytes > 0 ? limits.maxBufferedRequestBytes : Infinity;
    this.callsLog = new BurstLog(log, 'max-concurrent-calls', limits.maxConcurrentCalls, 'calls');
    this.bytesLog = new BurstLog(log, 'max-buffered-request-bytes', limits.maxBufferedRequestBytes, 'calls');
  }

  get callsInFlight(): number {
    return this.calls;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Take a call slot; false (and the refusal burst-logged) when none is left. */
  startCall(): boolean {
    if (this.calls >= this.maxCalls) {
      this.callsLog.hit();
      return false;
    }
    this.calls++;
    return true;
  }

  endCall(): void {
    this.calls--;
  }

  /** Reserve n more request bytes; false (and the refusal burst-logged) past the bound. */
  reserve(n: number): boolean {
    if (this.bytes + n > this.maxBytes) {
      this.bytesLog.hit();
      return false;
    }
    this.bytes += n;
    return true;
  }

  release(n: number): void {
    this.bytes -= n;
  }

  stop(): void {
    this.callsLog.stop();
    this.bytesLog.stop();
  }
}

/**
 * Closes each connection accepted while `max` are open (`refused` is told of each). Not Node's
 * server.maxConnections: in a --workers worker a connection declined that way goes back to the
 * primary, which hands it to the next worker, and round again while every worker is full: the
 * connection hangs and the processes spin.
 */
export function limitConnections(server: Server, max: number, refused: () => void): void {
  let open = 0;
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      socket.destroy();
      refused();
      return;
    }
    open++;
    socket.once('close', () => open--);
  });
}
