// A grpc-js "Pod" for the header rules: it serves echo.v1.EchoService/Echo (raw bytes, an empty
// EchoResponse, so real clients decode it), records the metadata of every call it receives, and
// answers with whatever metadata the test asks for: initial, trailing, or trailers-only.
import * as grpc from '@grpc/grpc-js';

export interface MetadataPodAnswer {
  /** Initial metadata (response headers); not sent when `failWith` is set (trailers-only). */
  initial?: Record<string, string>;
  /** Trailing metadata (trailer frame, or the headers of a trailers-only answer). */
  trailing?: Record<string, string>;
  /** Answer trailers-only with this status instead of a message. */
  failWith?: grpc.status;
}

export interface MetadataPod {
  address: string;
  /** Metadata of every call received, oldest first: name → values (binary values base64). */
  received: Array<Record<string, string[]>>;
  /** What the next calls are answered with. */
  answer: MetadataPodAnswer;
  close(): Promise<void>;
}

const identity = (b: Buffer): Buffer => b;

function toMetadata(entries: Record<string, string> | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [name, value] of Object.entries(entries ?? {})) md.add(name, value);
  return md;
}

export async function startMetadataPod(host: string): Promise<MetadataPod> {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  const pod: MetadataPod = {
    address: `${host}:${port}`,
    received: [],
    answer: {},
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
  server.register(
    '/echo.v1.EchoService/Echo',
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      const seen: Record<string, string[]> = {};
      for (const [name, values] of Object.entries(call.metadata.toJSON())) {
        seen[name] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v)));
      }
      pod.received.push(seen);
      const { initial, trailing, failWith } = pod.answer;
      if (failWith !== undefined) {
        callback({ code: failWith, details: 'failing on purpose', metadata: toMetadata(trailing) });
        return;
      }
      call.sendMetadata(toMetadata(initial));
      callback(null, Buffer.alloc(0), toMetadata(trailing));
    },
    identity,
    identity,
    'unary',
  );
  return pod;
}
