// Which failed attempts may be sent again without the user's say-so: only those the Pod provably
// never processed, the cases gRPC's transparent-retry design (A6) names. Everything else —
// UNAVAILABLE from the application, a load-shedding server, a connection dropped while the
// handler ran — may have run the handler, and sending it again could charge a card twice.
import { status as Status, type StatusObject } from '@grpc/grpc-js';

/**
 * grpc-js's words for the two cases it reports to its caller (test/unit/upstream/retry pins them
 * against real grpc-js servers, so an upgrade that rewords them fails a test instead of quietly
 * turning retries off or on):
 *  - the pick found no connection: the picker of a channel in TRANSIENT_FAILURE (the Pod refused
 *    or dropped the connection, or sent GOAWAY and then refused the reconnect) fails the call
 *    before any stream exists;
 *  - RST_STREAM(REFUSED_STREAM): the server refused the stream before the application saw it;
 *    nghttp2 also closes this way the streams above a GOAWAY's last-stream-id. grpc-js has then
 *    already retried once on the same connection, itself.
 * "Failed to start HTTP/2 stream" (the stream could not be created) never reaches us: grpc-js
 * retries that case itself (progress NOT_STARTED) until the deadline.
 */
export const NO_CONNECTION_PREFIX = 'No connection established';
export const STREAM_REFUSED = 'Stream refused by server';

/**
 * A status as a transport that knows the answer reports it: the gateway's node:http2 client
 * (../http2/) sets `neverProcessed` on every status it makes up, from HTTP/2 facts (no session,
 * a stream never created, RST_STREAM(REFUSED_STREAM), a stream above GOAWAY's last-stream-id),
 * so no wording is read. grpc-js leaves it undefined.
 */
export interface AttemptStatus extends StatusObject {
  neverProcessed?: boolean;
}

/**
 * True when the attempt never reached the Pod's application: nothing came back (`received`
 * false: no headers, no message) and the transport says no stream was ever processed.
 */
export function neverProcessed(status: AttemptStatus, received: boolean): boolean {
  if (received || status.code !== Status.UNAVAILABLE) return false;
  if (status.neverProcessed !== undefined) return status.neverProcessed;
  return status.details === STREAM_REFUSED || status.details.startsWith(NO_CONNECTION_PREFIX);
}
