// A native gRPC client: grpc-js itself (makeGenericClientConstructor, raw bytes both ways) for
// the four methods of test/support/stream-pod.ts. One instance is one channel: one HTTP/2
// connection, the client a Kubernetes ClusterIP Service would pin to one Pod.
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

function method(path: string, requestStream: boolean, responseStream: boolean) {
  return { path, requestStream, responseStream, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity };
}

const StreamService = grpc.makeGenericClientConstructor(
  {
    Unary: method('/test.Stream/Unary', false, false),
    Serve: method('/test.Stream/Serve', false, true),
    Collect: method('/test.Stream/Collect', true, false),
    Chat: method('/test.Stream/Chat', true, true),
  },
  'test.Stream',
);

type Callback = (error: grpc.ServiceError | null, answer?: Buffer) => void;

export interface NativeClient extends grpc.Client {
  Unary(request: Buffer, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientUnaryCall;
  Serve(request: Buffer, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<Buffer>;
  Collect(metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): grpc.ClientWritableStream<Buffer>;
  Chat(metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<Buffer, Buffer>;
}

/** A client of `address` ("host:port"), cleartext HTTP/2 (h2c) unless credentials are given. */
export function nativeClient(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): NativeClient {
  return new StreamService(address, credentials, { 'grpc.max_receive_message_length': 64 << 20, ...options }) as unknown as NativeClient;
}

/** A unary call as a promise: the answer, its headers and trailers, or the error. */
export function unary(
  client: NativeClient,
  request: Buffer | string,
  metadata = new grpc.Metadata(),
  options: grpc.CallOptions = {},
): Promise<{ answer?: Buffer; error?: grpc.ServiceError; headers?: grpc.Metadata; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    let result: { answer?: Buffer; error?: grpc.ServiceError } | undefined;
    const done = (): void => {
      if (result && trailers) resolve({ ...result, headers, trailers });
    };
    const call = client.Unary(Buffer.from(request), metadata, options, (error, answer) => {
      result = error ? { error } : { answer };
      if (error) trailers ??= error.metadata;
      done();
    });
    call.on('metadata', (m) => (headers = m));
    call.on('status', (s) => {
      trailers = s.metadata;
      done();
    });
  });
}
