// A node:http2 "Pod" that refuses every stream (RST_STREAM REFUSED_STREAM: provably never
// processed, so a gateway may send the call again) once `afterBytes` of its request arrived.
import http2 from 'node:http2';

export interface RefuserPod {
  seen: { streams: number };
  close(): Promise<void>;
}

export async function startRefuser(host: string, port: number, afterBytes: number): Promise<RefuserPod> {
  const server = http2.createServer();
  const seen = { streams: 0 };
  server.on('stream', (stream) => {
    seen.streams++;
    let bytes = 0;
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes >= afterBytes && !stream.closed) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return { seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}
