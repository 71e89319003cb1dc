// TLS to Pods: the credentials every channel of the gateway shares, and the name each Pod must prove.
//
// A headless Service's Pods are reached by their own IPs, yet they usually carry one certificate
// for the Service's name. grpc-js would send each Pod's IP as SNI and check the IP against the
// certificate's names, so every Pod would fail. With `grpc.ssl_target_name_override` grpc-js sends
// the given name as SNI and checks it instead (channel-credentials.js getConnectionOptions), and
// `grpc.default_authority` makes the :authority header agree with it, as a client that dialled the
// Service by name would send.
import type { SecureContext } from 'node:tls';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { TargetSpec, UpstreamTlsConfig } from '../config/types.js';
import { UpstreamCredentials } from './credentials.js';

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
  /** Shared by every pool; made here (never reloaded) when none is given. */
  readonly source: UpstreamCredentials;

  constructor(target: TargetSpec, config: UpstreamTlsConfig | null, shared?: UpstreamCredentials) {
    this.enabled = config !== null;
    this.serverName = config ? serverNameFor(target, config) : null;
    this.source = shared ?? new UpstreamCredentials(config);
  }

  /** The credentials new connections are made with (they change when the files do). */
  get credentials(): ChannelCredentials {
    return this.source.current;
  }

  get generation(): number {
    return this.source.generation;
  }

  /** The node:http2 client's TLS context (--upstream-client http2) for new connections; null: plaintext. */
  get secureContext(): SecureContext | null {
    return this.source.secureContext;
  }

  /** `base`, plus what makes a channel to a Pod on `port` send the server name as SNI, verify it and use it as :authority. */
  channelOptions(base: ChannelOptions, port: number): ChannelOptions {
    const name = this.serverName;
    if (name === null) return base;
    const host = name.includes(':') ? `[${name}]` : name;
    return { ...base, 'grpc.ssl_target_name_override': name, 'grpc.default_authority': `${host}:${port}` };
  }
}
