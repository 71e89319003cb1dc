// How an Endpoint opens a connection to its Pod, by --upstream-client: a grpc-js Channel, or the
// gateway's own node:http2 session. Everything above (Endpoint, PoolCall, health checks, the TLS
// diagnosis) sees the same PodConnection either way.
import type { UpstreamClientName } from '../config/types.js';
import type { PodConnection } from './attempt.js';
import { channelOptions, Connection, grpcTarget, type ConnectionSettings } from './connection.js';
import { Http2Connection } from './http2/session.js';
import { podTlsOptions } from './http2/tls.js';
import type { PodTls } from './tls.js';

export type Connector = (onStateChange: () => void) => PodConnection;

/** Makes a Connector per Pod address; built once per pool. */
export function connectorFactory(
  client: UpstreamClientName,
  tls: PodTls,
  settings: ConnectionSettings,
): (host: string, port: number) => Connector {
  if (client === 'http2') {
    return (host, port) => (onStateChange) => {
      // Read per connection: renewed credentials (credentials.ts) reach the next one.
      const context = tls.secureContext;
      const podTls = context === null ? null : podTlsOptions(context, tls.serverName, host, port);
      return new Http2Connection(host, port, settings, podTls, onStateChange);
    };
  }
  const base = channelOptions(settings);
  return (host, port) => {
    const target = grpcTarget(host, port);
    const options = tls.channelOptions(base, port);
    return (onStateChange) => new Connection(target, tls.credentials, options, onStateChange);
  };
}
