// Writing a native gRPC answer on the client's HTTP/2 stream (./native-exchange.ts): a message
// the Pod's client cut out, framed again, and the call's end — real HTTP/2 trailers, or
// trailers-only when no message came.
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { encodeGrpcMessage, encodeMessageFrame, frameHeader, isForwardableResponseHeader } from '../protocol/index.js';

/** Above this size a message is written after its 5-byte header instead of copied behind it. */
const COPY_LIMIT = 16 * 1024;

/** One message with its prefix; false when the stream wants a 'drain' before more. */
export function writeMessage(res: Http2ServerResponse, message: Buffer): boolean {
  if (message.length > COPY_LIMIT) {
    res.write(frameHeader(0, message.length));
    return res.write(message);
  }
  return res.write(encodeMessageFrame(message));
}

/**
 * The call's status. `trailersOnly`: the response headers, the trailing metadata among them, when
 * no response headers were sent yet (null once they were).
 */
export function endAnswer(res: Http2ServerResponse, status: StatusObject, trailersOnly: OutgoingHttpHeaders | null): void {
  // Reset since the last write: nothing can be said any more.
  if (res.stream.destroyed) return;
  const fields: OutgoingHttpHeaders = { 'grpc-status': String(status.code) };
  // grpc-js reports "OK" as the details of every success: no need to send it.
  if (status.code !== Status.OK && status.details) fields['grpc-message'] = encodeGrpcMessage(status.details);
  if (trailersOnly !== null) {
    // One HEADERS frame that ends the stream (Node's compatibility response would send the
    // headers and an empty trailer block apart, which clients read as no status).
    res.stream.respond({ ...trailersOnly, ...fields, ':status': 200 }, { endStream: true });
    return;
  }
  const trailing = status.metadata.toHttp2Headers();
  for (const name in trailing) {
    if (isForwardableResponseHeader(name) && trailing[name] !== undefined) fields[name] = trailing[name];
  }
  res.addTrailers(fields);
  res.end();
}
