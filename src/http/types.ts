/** One finished call, as the metrics and the access log see it. */
export interface CallRecord {
  /** The route prefix that matched ("" when none did). */
  route: string;
  /** gRPC path, "/package.Service/Method". */
  method: string;
  code: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  endpoint: string | undefined;
}

/** What the front end reports; the admin side implements it with prom-client. */
export interface CallObserver {
  callStarted(): void;
  callEnded(record: CallRecord): void;
}

export const noopObserver: CallObserver = { callStarted() {}, callEnded() {} };
