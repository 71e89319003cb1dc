// Clients of a TLS listener that trust a test CA: undici (HTTP/1.1, or HTTP/2 through ALPN with
// allowH2) as the `fetch` of the real gRPC-Web clients, and a bare TLS handshake that reports the
// certificate the listener presents.
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Fetch } from './clients.js';

export interface TlsClientOptions {
  /** PEM path of the CA that signed the listener's certificate. */
  ca: string;
  /** Offer h2 in ALPN (undici allowH2); otherwise HTTP/1.1 only. */
  h2: boolean;
  /** A client certificate and key (PEM paths), for mTLS. */
  cert?: string;
  key?: string;
}

export interface TlsFetch {
  fetch: Fetch;
  close(): Promise<void>;
}

export function tlsFetch(o: TlsClientOptions): TlsFetch {
  const agent = new Agent({
    allowH2: o.h2,
    connect: {
      ca: readFileSync(o.ca),
      ...(o.cert ? { cert: readFileSync(o.cert), key: readFileSync(o.key!) } : {}),
      ALPNProtocols: o.h2 ? ['h2', 'http/1.1'] : ['http/1.1'],
    },
  });
  const fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init ?? {}), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as Fetch;
  return { fetch, close: () => agent.close() };
}

/** Opens a new TLS connection to `url` and returns the serial of the certificate it presents. */
export function presentedSerial(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca: readFileSync(ca), ALPNProtocols: ['h2'] }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.once('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}
