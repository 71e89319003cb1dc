import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import type { AttemptFactory } from './attempt.js';

/**
 * Active health checking, the gRPC way: a grpc.health.v1.Health/Check call (service "") sent
 * over the Pod's own connection. It catches what connection state cannot: a Pod that is frozen
 * or whose node is gone keeps an open, READY-looking connection until keepalive gives up.
 *
 * Verdicts:
 *   alive        the Pod answered: SERVING, or any gRPC error it sent itself — UNIMPLEMENTED from
 *                a server without the health service (common, and Kubernetes' grpc probes then
 *                aren't used either), PERMISSION_DENIED from an auth interceptor, ...
 *   not-serving  it answered NOT_SERVING (grpc-go and grpc-java health servers say so while
 *                shutting down, or when the application marks itself unhealthy)
 *   no-answer    the call timed out or the connection failed
 */
export type HealthVerdict = 'alive' | 'not-serving' | 'no-answer';

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';

/** HealthCheckRequest { service: "" } encodes to zero bytes. */
const EMPTY_REQUEST = Buffer.alloc(0);

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/**
 * The `status` field (1, varint) of a HealthCheckResponse; UNKNOWN when absent. Hand-decoded: one
 * varint field is not worth a protobuf runtime on the gateway's side.
 */
export function servingStatus(bytes: Buffer): number {
  let status: number = SERVING_STATUS.UNKNOWN;
  const at = { i: 0 };
  while (at.i < bytes.length) {
    const key = readVarint(bytes, at);
    const wireType = key & 7;
    if (wireType === 0) {
      const value = readVarint(bytes, at);
      if (key >> 3 === 1) status = value;
    } else if (wireType === 2) {
      const length = readVarint(bytes, at); // (read first: it moves at.i)
      at.i += length; // skip a length-delimited field
    } else {
      break; // a field type this message never has: keep what was read
    }
  }
  return status;
}

/** A protobuf varint at `at.i` (up to 32 bits, all this message needs), advancing `at.i`. */
function readVarint(bytes: Buffer, at: { i: number }): number {
  let value = 0;
  for (let shift = 0; at.i < bytes.length && shift <= 28; shift += 7) {
    const b = bytes[at.i++]!;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return value >>> 0;
}

export function verdictOf(status: StatusObject, response: Buffer | null): HealthVerdict {
  if (status.code === Status.OK) {
    return response && servingStatus(response) === SERVING_STATUS.NOT_SERVING ? 'not-serving' : 'alive';
  }
  if (status.code === Status.DEADLINE_EXCEEDED || status.code === Status.UNAVAILABLE) return 'no-answer';
  return 'alive';
}

/** One health check over `channel`, bounded by timeoutMs. Never rejects. */
export function checkHealth(channel: AttemptFactory, timeoutMs: number): Promise<HealthVerdict> {
  return new Promise((resolve) => {
    let response: Buffer | null = null;
    const call = channel.createCall(HEALTH_CHECK_METHOD, Date.now() + timeoutMs, null, null, null);
    call.start(new Metadata(), {
      onReceiveMetadata() {},
      onReceiveMessage(message: Buffer) {
        response = message;
      },
      onReceiveStatus(status: StatusObject) {
        resolve(verdictOf(status, response));
      },
    });
    call.sendMessageWithContext({}, EMPTY_REQUEST);
    call.halfClose();
    call.startRead();
  });
}
