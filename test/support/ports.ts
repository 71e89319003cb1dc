// Loopback ports and addresses for e2e tests. Every 127.0.0.0/8 address works on Linux without setup,
// so each "Pod" can have its own IP like a real Pod would.
import { createServer } from 'node:net';

/** A port that was free a moment ago on `host` (bind :0, read, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

/** `n` distinct loopback IPs: 127.0.0.<firstOctet>, 127.0.0.<firstOctet+1>, ... */
export function podAddresses(n: number, firstOctet = 2): string[] {
  if (firstOctet < 1 || firstOctet + n - 1 > 254) throw new RangeError(`127.0.0.${firstOctet}+${n} is out of range`);
  return Array.from({ length: n }, (_, i) => `127.0.0.${firstOctet + i}`);
}
