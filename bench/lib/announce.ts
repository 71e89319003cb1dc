// How the bench's reference servers (bench/floor-proxy.ts, bench/relay.ts) start: on loopback,
// announcing {"ready":true,"port":N} on stdout (what bench/run.ts waits for), gone on SIGTERM/SIGINT.
import type { Server } from 'node:net';

export function listenAndAnnounce(server: Pick<Server, 'listen' | 'address'>, port: number): void {
  server.listen(port, '127.0.0.1', () => {
    const a = server.address();
    process.stdout.write(JSON.stringify({ ready: true, port: typeof a === 'object' && a ? a.port : 0 }) + '\n');
  });
  const stop = (): void => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
