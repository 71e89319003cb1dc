// A minimal grpc-js "Pod" that speaks raw bytes (identity serializers), for tests of the
// upstream side that need no .proto. Each call answers with the Pod's own address; a failing one
// answers trailers-only (no response headers first), as grpc-go and grpc-js handlers that fail
// without sending metadata do.
import * as grpc from '@grpc/grpc-js';

export interface RawPod {
  address: string;
  calls: number;
  /** The :authority of the last call (grpc-js getHost()). */
  lastAuthority: string;
  /** Per call, the serial of the client certificate it came with (mTLS), '' without one. */
  clientSerials: string[];
  close(): Promise<void>;
  forceClose(): void;
}

export interface RawPodBehaviour {
  /** The method it serves; default /test.Pod/Who. */
  path?: string;
  /** Delay before answering, ms. */
  delayMs?: number;
  /** Fail every call with this status (trailers-only). */
  failWith?: grpc.status;
  /** Trailing metadata sent with failWith (e.g. grpc-retry-pushback-ms). */
  failTrailers?: Record<string, string>;
  /**
   * Serve grpc.health.v1.Health/Check answering this ServingStatus (1 SERVING, 2 NOT_SERVING);
   * read at each check, so a test can flip it. Without it the Pod has no health service
   * (checks get UNIMPLEMENTED).
   */
  health?: () => number;
  /** Default: plaintext. */
  credentials?: grpc.ServerCredentials;
}

const identity = (b: Buffer) => b;

export async function startRawPod(host: string, port: number, behaviour: RawPodBehaviour = {}): Promise<RawPod> {
  const server = new grpc.Server();
  const address = `${host}:${port}`;
  const pod: RawPod = {
    address,
    calls: 0,
    lastAuthority: '',
    clientSerials: [],
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
  server.register(
    behaviour.path ?? '/test.Pod/Who',
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      pod.calls++;
      pod.lastAuthority = call.getHost();
      pod.clientSerials.push(call.getAuthContext().sslPeerCertificate?.serialNumber ?? '');
      const answer = () => {
        if (behaviour.failWith !== undefined) {
          const metadata = new grpc.Metadata();
          for (const [k, v] of Object.entries(behaviour.failTrailers ?? {})) metadata.set(k, v);
          callback({ code: behaviour.failWith, details: `failing ${address}`, metadata });
        }
        else callback(null, Buffer.from(address));
      };
      if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    },
    identity,
    identity,
    'unary',
  );
  if (behaviour.health) {
    const health = behaviour.health;
    server.register(
      '/grpc.health.v1.Health/Check',
      (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
        callback(null, Buffer.from([0x08, health()])), // HealthCheckResponse { status }
      identity,
      identity,
      'unary',
    );
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, behaviour.credentials ?? grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return pod;
}
