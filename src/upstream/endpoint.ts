import type { ChannelOptions } from '@grpc/grpc-js';
import { Connection } from './connection.js';
import type { EndpointSnapshot, EndpointState } from './types.js';

export interface EndpointSettings {
  target: string;
  channelOptions: ChannelOptions;
  streamsPerConnection: number;
  maxConnections: number;
}

/**
 * One Pod address. Usually one connection; when every connection already carries
 * `streamsPerConnection` calls, another is opened (up to `maxConnections`) so calls do not
 * queue behind one connection's concurrent-stream limit.
 */
export class Endpoint {
  readonly firstSeen = Date.now();
  inFlight = 0;
  calls = 0;
  failures = 0;
  draining = false;
  state: EndpointState = 'CONNECTING';
  private readonly connections: Connection[] = [];
  private closed = false;

  constructor(
    readonly address: string,
    private readonly settings: EndpointSettings,
    private readonly onStateChange: (endpoint: Endpoint, previous: EndpointState) => void,
  ) {
    this.open();
  }

  private open(): Connection {
    const connection = new Connection(this.settings.target, this.settings.channelOptions, () =>
      this.refreshState(),
    );
    this.connections.push(connection);
    this.refreshState();
    return connection;
  }

  private refreshState(): void {
    if (this.closed) return;
    const previous = this.state;
    let next: EndpointState = 'TRANSIENT_FAILURE';
    for (const c of this.connections) {
      if (c.state === 'READY') {
        next = 'READY';
        break;
      }
      if (c.state === 'CONNECTING' || c.state === 'IDLE') next = 'CONNECTING';
    }
    this.state = next;
    if (next !== previous) this.onStateChange(this, previous);
  }

  /** The least-loaded READY connection; opens another one when all are at the stream threshold. */
  pickConnection(): Connection | undefined {
    let best: Connection | undefined;
    for (const c of this.connections) {
      if (c.state === 'READY' && (!best || c.inFlight < best.inFlight)) best = c;
    }
    if (
      best &&
      best.inFlight >= this.settings.streamsPerConnection &&
      this.connections.length < this.settings.maxConnections &&
      !this.connections.some((c) => c.state === 'CONNECTING')
    ) {
      this.open();
    }
    return best;
  }

  get connectionCount(): number {
    return this.connections.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.connections) c.close();
    this.state = 'SHUTDOWN';
  }

  snapshot(): EndpointSnapshot {
    return {
      address: this.address,
      state: this.state,
      draining: this.draining,
      connections: this.connections.length,
      calls: this.calls,
      failures: this.failures,
      inFlight: this.inFlight,
      firstSeen: this.firstSeen,
    };
  }
}
