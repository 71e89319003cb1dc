import { Channel, connectivityState, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { EndpointState } from './types.js';

const STATE_NAMES: Record<number, EndpointState> = {
  [connectivityState.IDLE]: 'IDLE',
  [connectivityState.CONNECTING]: 'CONNECTING',
  [connectivityState.READY]: 'READY',
  [connectivityState.TRANSIENT_FAILURE]: 'TRANSIENT_FAILURE',
  [connectivityState.SHUTDOWN]: 'SHUTDOWN',
};

export interface ConnectionSettings {
  /** --connect-timeout; grpc-js has no connection attempt timeout of its own to give it to. */
  connectTimeoutMs: number;
  keepalivePingIntervalMs: number;
  keepalivePingTimeoutMs: number;
  maxMessageBytes: number;
}

/** grpc-js target text for one address: literal IPs skip grpc-js's own DNS resolver. */
export function grpcTarget(host: string, port: number): string {
  if (host.includes(':')) return `ipv6:[${host}]:${port}`;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `ipv4:${host}:${port}`;
  return `dns:${host}:${port}`;
}

export function channelOptions(s: ConnectionSettings): ChannelOptions {
  return {
    // Without this grpc-js shares one subchannel (one HTTP/2 connection) between every
    // Channel to the same address, and "another connection to this Pod" would be no such thing.
    'grpc.use_local_subchannel_pool': 1,
    // Ping only while calls are in flight: this notices a dead Pod under a quiet server stream,
    // and pinging idle connections is what servers punish with GOAWAY too_many_pings.
    'grpc.keepalive_time_ms': s.keepalivePingIntervalMs,
    'grpc.keepalive_timeout_ms': s.keepalivePingTimeoutMs,
    'grpc.keepalive_permit_without_calls': 0,
    'grpc.max_receive_message_length': s.maxMessageBytes,
    'grpc.max_send_message_length': s.maxMessageBytes,
    // The pool keeps connections warm for as long as the Pod is in DNS: no idle disconnects.
    'grpc.client_idle_timeout_ms': 2 ** 31 - 1,
    // A Pod that restarts (same IP, still in DNS) is reconnected quickly.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 5_000,
    // Channelz bookkeeping costs per call and nobody reads it here.
    'grpc.enable_channelz': 0,
  };
}

/**
 * One HTTP/2 connection to one Pod, TLS or not as `credentials` say: a grpc-js Channel with a
 * private subchannel, whose connectivity state is watched and reported. It reconnects by itself (grpc-js backoff) and
 * is asked to connect again whenever it falls IDLE (after a GOAWAY or a dropped socket).
 */
export class Connection {
  readonly channel: Channel;
  /** The UpstreamCredentials generation it was made with: older ones are replaced (endpoint.ts). */
  generation = 0;
  private calls = 0;
  private current: EndpointState;
  private closed = false;

  constructor(
    target: string,
    credentials: ChannelCredentials,
    options: ChannelOptions,
    private readonly onStateChange: (connection: Connection) => void,
  ) {
    this.channel = new Channel(target, credentials, options);
    // Connect now, so the first calls to a new Pod do not pay the handshake.
    this.current = STATE_NAMES[this.channel.getConnectivityState(true)]!;
    this.watch();
  }

  get state(): EndpointState {
    return this.current;
  }

  /** Calls in progress on this connection. */
  get inFlight(): number {
    return this.calls;
  }

  /** An attempt starts / ends on this connection (its Endpoint keeps the books). */
  attemptStarted(): void {
    this.calls++;
  }

  attemptEnded(): void {
    this.calls--;
  }

  private watch(): void {
    if (this.closed) return;
    const current = this.channel.getConnectivityState(false);
    this.channel.watchConnectivityState(current, Infinity, () => {
      if (this.closed) return;
      let next = this.channel.getConnectivityState(false);
      if (next === connectivityState.IDLE) next = this.channel.getConnectivityState(true);
      this.current = STATE_NAMES[next]!;
      this.onStateChange(this);
      this.watch();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.current = 'SHUTDOWN';
    this.channel.close();
  }
}
