// TLS to Pods: the credentials every channel of the gateway shares, and the name each Pod must prove.
//
// A headless Service's Pods are reached by their own IPs, yet they usually carry one certificate
// for the Service's name. grpc-js would send each Pod's IP as SNI and check the IP against the
// certificate's names, so every Pod would fail. With `grpc.ssl_target_name_override` grpc-js sends
// the given name as SNI and checks it instead (channel-credentials.js getConnectionOptions), and
// `grpc.default_authority` makes the :authority header agree with it, as a client that dialled the
// Service by name would send.
import type { SecureContext } from 'node:tls';
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { TargetSpec, UpstreamTlsConfig } from '../config/types.js';
import { secureContextOf } from './http2/tls.js';

/**
 * The credentials for every channel to every Pod. One object, so that the CA bundle and client
 * key are parsed once (createSsl builds one secure context) however many Pods there are.
 */
export function channelCredentials(tls: UpstreamTlsConfig | null): ChannelCredentials {
  if (tls === null) return credentials.createInsecure();
  // A null CA: Node's default store (its bundled public CAs, plus NODE_EXTRA_CA_CERTS).
  return credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/**
 * The name a Pod of `target` must prove: --upstream-server-name, else the target's host name.
 * null: each address's own host, which is what grpc-js verifies by itself (static HOST:PORT lists).
 */
export function serverNameFor(target: TargetSpec, tls: UpstreamTlsConfig): string | null {
  if (tls.serverName !== null) return tls.serverName;
  switch (target.kind) {
    case 'dns':
      // The Service's name, as written in the target: its Pods are reached by IP.
      return target.name.endsWith('.') ? target.name.slice(0, -1) : target.name;
    case 'k8s':
      // The Service's cluster DNS name without the cluster domain, which the gateway does not know:
      // the form Kubernetes and cert-manager certificates for a Service carry.
      return `${target.service}.${target.namespace}.svc`;
    case 'static':
      return null;
    default:
      return unknownTarget(target);
  }
}

/** A target kind added without a server name rule fails to compile here. */
function unknownTarget(target: never): never {
  throw new Error(`no TLS server name rule for target ${JSON.stringify(target)}`);
}

/** TLS to the Pods of one target: the credentials and the name they must prove. */
export class PodTls {
  readonly enabled: boolean;
  /** null: plaintext, or each address's own host. */
  readonly serverName: string | null;
  readonly credentials: ChannelCredentials;
  private context: SecureContext | undefined;

  constructor(
    target: TargetSpec,
    private readonly config: UpstreamTlsConfig | null,
    shared?: ChannelCredentials,
  ) {
    this.enabled = config !== null;
    this.serverName = config ? serverNameFor(target, config) : null;
    this.credentials = shared ?? channelCredentials(config);
  }

  /** The node:http2 client's TLS context (--upstream-client http2), made at first use; null: plaintext. */
  get secureContext(): SecureContext | null {
    if (this.config === null) return null;
    return (this.context ??= secureContextOf(this.config));
  }

  /** `base`, plus what makes a channel to a Pod on `port` send the server name as SNI, verify it and use it as :authority. */
  channelOptions(base: ChannelOptions, port: number): ChannelOptions {
    const name = this.serverName;
    if (name === null) return base;
    const host = name.includes(':') ? `[${name}]` : name;
    return { ...base, 'grpc.ssl_target_name_override': name, 'grpc.default_authority': `${host}:${port}` };
  }
}
