// What a client may read of a status the gateway or its upstream client made up, as opposed to one
// the application sent: the clients' own messages name Pod addresses ("connect ECONNREFUSED
// 10.1.2.3:50051", "remote_addr=10.1.2.3:50051"; the http2 client words its statuses as grpc-js
// does, so one rule covers both), which are the operator's business, not the browser's. Those go
// to the log; the client gets a plain phrase.
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { NO_CONNECTION_PREFIX } from './retry/index.js';

/** grpc-js's message when its own deadline timer ends a call (the server never said so). */
const LOCAL_DEADLINE_PREFIX = 'Deadline exceeded after ';

export const NO_READY_BACKEND = 'no ready backend';

/**
 * `status` as the client should see it, and the original details for the log when they were
 * replaced (undefined when the status is shown as it came).
 */
export function clientStatus(status: StatusObject, received: boolean): { status: StatusObject; note?: string } {
  if (!received && status.code === Status.UNAVAILABLE && status.details.startsWith(NO_CONNECTION_PREFIX)) {
    return { status: { code: status.code, details: NO_READY_BACKEND, metadata: status.metadata }, note: status.details };
  }
  // Also after messages: a server stream that outlives its deadline ends with this message too.
  if (status.code === Status.DEADLINE_EXCEEDED && status.details.startsWith(LOCAL_DEADLINE_PREFIX)) {
    return { status: { code: status.code, details: 'Deadline exceeded', metadata: status.metadata }, note: status.details };
  }
  return { status };
}

export function gatewayStatus(code: Status, details: string): StatusObject {
  return { code, details, metadata: new Metadata() };
}
