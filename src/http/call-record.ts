// One finished call, whatever its protocol: counted in the metrics and, with --access-log, one
// log line with its gRPC status.
import type { AdmittedCall } from './admission.js';
import type { CallObserver } from './types.js';

/** What recording a call needs of its exchange. */
export interface RecordedCall extends Pick<AdmittedCall, 'route' | 'method' | 'clientAddress'> {
  req: { httpVersion: string };
  settings: { observer: CallObserver; accessLog: boolean };
  /** The request's logger (it already carries reqId). */
  log: { info(fields: object, message: string): void };
}

/** `note`: what the upstream side knows and the client is not told (see CallListener.onStatus). */
export function recordCall(
  x: RecordedCall,
  started: number,
  code: number,
  message: string,
  endpoint: string | undefined,
  note: string | undefined,
  bytesIn: number,
  bytesOut: number,
): void {
  const durationMs = performance.now() - started;
  x.settings.observer.callEnded({ route: x.route, method: x.method, code, durationMs, bytesIn, bytesOut, endpoint });
  if (!x.settings.accessLog) return;
  const line = {
    method: x.method,
    grpcStatus: code,
    grpcMessage: code === 0 ? undefined : message,
    note,
    durationMs: Math.round(durationMs * 1000) / 1000,
    endpoint,
    bytesIn,
    bytesOut,
    client: x.clientAddress,
    // "1.1" or "2.0": which transport carried the call.
    http: x.req.httpVersion,
  };
  x.log.info(line, 'call');
}
