// TLS to a Pod for the node:http2 client: the same rules as grpc-js is given in ../tls.ts. One
// secure context (CA bundle, client certificate and key parsed once) for every Pod; the name a
// Pod must prove is sent as SNI and checked with Node's checkServerIdentity, and it is the
// :authority, as a client that dialled the Service by name would send.
import { isIP } from 'node:net';
import { checkServerIdentity, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import type { SecureClientSessionOptions } from 'node:http2';
import type { UpstreamTlsConfig } from '../../config/types.js';

export interface PodTlsOptions {
  /** :authority of every call. */
  authority: string;
  connectOptions: SecureClientSessionOptions;
}

export function secureContextOf(config: UpstreamTlsConfig): SecureContext {
  // A null CA: Node's default store (its bundled public CAs, plus NODE_EXTRA_CA_CERTS).
  return createSecureContext({
    ...(config.ca ? { ca: config.ca } : {}),
    ...(config.cert ? { cert: config.cert } : {}),
    ...(config.key ? { key: config.key } : {}),
  });
}

/**
 * TLS options for the Pod at host:port. `serverName`: the name it must prove (null: its own
 * host, which Node verifies by itself; an IP is never sent as SNI, RFC 6066).
 */
export function podTlsOptions(context: SecureContext, serverName: string | null, host: string, port: number): PodTlsOptions {
  const name = serverName ?? host;
  const authorityHost = name.includes(':') ? `[${name}]` : name;
  const connectOptions: SecureClientSessionOptions = { secureContext: context, ALPNProtocols: ['h2'] };
  if (isIP(name) === 0) connectOptions.servername = name;
  connectOptions.checkServerIdentity = (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  return { authority: `${authorityHost}:${port}`, connectOptions };
}
