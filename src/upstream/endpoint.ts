import { status as Status } from '@grpc/grpc-js';
import type { PodConnection } from './attempt.js';
import { checkHealth } from './health-check.js';
import type { PodTls } from './tls.js';
import { EXPECTS_TLS, lastConnectError, mayExpectTls, speaksTls, tlsFailureOf, type TlsFailure } from './tls-failure.js';
import type { EndpointSnapshot, EndpointState } from './types.js';

export interface EndpointSettings {
  /** Opens one more connection to the Pod (grpc-js or node:http2, as --upstream-client says). */
  connect(onStateChange: () => void): PodConnection;
  /** The Pod's address, for the one TLS probe a plaintext connection that was cut may need. */
  host: string;
  port: number;
  /** The credentials of every channel (health checks ride the same channels). */
  tls: PodTls;
  streamsPerConnection: number;
  maxConnectionsPerPod: number;
  /** 0: no active health checks. */
  healthCheckIntervalMs: number;
  healthCheckTimeoutMs: number;
}

export interface EndpointEvents {
  onStateChange(endpoint: Endpoint, previous: EndpointState): void;
  onHealthChange(endpoint: Endpoint): void;
  /** Its connections fail because of TLS: once per failure streak (until it is READY again). */
  onTlsFailure(endpoint: Endpoint, failure: TlsFailure, error: string): void;
}

/**
 * Bound on the one TLS handshake tried with a Pod that hung up on plaintext; generous, since a
 * probe cut short on a busy machine would leave the failure unexplained for its whole streak.
 */
const TLS_PROBE_TIMEOUT_MS = 5000;

/** Unanswered checks in a row that take a Pod out of rotation (one NOT_SERVING is enough). */
const UNHEALTHY_AFTER = 2;

/** Status codes that count against a Pod (transport or server trouble, not application answers). */
const FAILURE_CODES = new Set<number>([
  Status.UNAVAILABLE,
  Status.INTERNAL,
  Status.UNKNOWN,
  Status.DATA_LOSS,
  Status.DEADLINE_EXCEEDED,
]);

/**
 * One Pod address. Usually one connection; when every connection already carries
 * `streamsPerConnection` calls, another is opened (up to `maxConnectionsPerPod`) so calls do not
 * queue behind one connection's concurrent-stream limit.
 */
export class Endpoint {
  readonly firstSeen = Date.now();
  /** Where discovery says the Pod runs (k8s:/// targets); the pool keeps it current. */
  zone: string | undefined;
  // Written here only; the pool and the views read them through the getters below.
  private active = 0;
  private attempts = 0;
  private failed = 0;
  private leaving = false;
  private passing = true;
  private current: EndpointState = 'CONNECTING';
  private readonly connections: PodConnection[] = [];
  /** Made with replaced credentials, out of use, closed when their last call ends. */
  private readonly retiring = new Set<PodConnection>();
  private closed = false;
  private missedChecks = 0;
  private healthTimer: NodeJS.Timeout | null = null;
  private tlsProblem: TlsFailure | null = null;

  constructor(
    readonly address: string,
    private readonly settings: EndpointSettings,
    private readonly events: EndpointEvents,
  ) {
    this.open();
    if (settings.healthCheckIntervalMs > 0) this.scheduleHealthCheck();
  }

  /** Attempts in progress on this Pod. */
  get inFlight(): number {
    return this.active;
  }

  /** Attempts sent to this Pod since it was first seen. */
  get calls(): number {
    return this.attempts;
  }

  /** Of those, the ones that ended with a status that counts against the Pod (FAILURE_CODES). */
  get failures(): number {
    return this.failed;
  }

  /** Gone from discovery: no new calls, in-flight ones finish. The pool decides (below). */
  get draining(): boolean {
    return this.leaving;
  }

  startDraining(): void {
    this.leaving = true;
  }

  /** Back in discovery before its drain finished. */
  stopDraining(): void {
    this.leaving = false;
  }

  /** False after failed health checks: READY-looking, yet frozen, gone, or NOT_SERVING. */
  get healthy(): boolean {
    return this.passing;
  }

  get state(): EndpointState {
    return this.current;
  }

  /** Why its connections fail, when TLS is why; null once it is READY again. */
  get tlsFailure(): TlsFailure | null {
    return this.tlsProblem;
  }

  /** An attempt starts on `connection` (one of this Pod's, from pickConnection). */
  attemptStarted(connection: PodConnection): void {
    connection.attemptStarted();
    this.active++;
    this.attempts++;
  }

  /** The attempt ended with `code`. */
  attemptEnded(connection: PodConnection, code: number): void {
    connection.attemptEnded();
    this.active--;
    if (FAILURE_CODES.has(code)) this.failed++;
    if (this.retiring.size > 0 && connection.inFlight === 0 && this.retiring.delete(connection)) connection.close();
  }

  /**
   * New credentials: a connection made with them is opened now; the older ones keep serving until
   * it is READY (retireStale), so no call waits or fails for the change. Older ones that serve
   * nothing (failing, or still connecting) would only retry with the old credentials: closed now.
   */
  renewConnections(): void {
    if (this.closed) return;
    for (const c of [...this.connections]) {
      if (c.state !== 'READY' && c.inFlight === 0) this.forget(c).close();
    }
    this.open();
  }

  /** Once a connection with the current credentials is READY, the older ones take no new call and close when idle. */
  private retireStale(): void {
    const generation = this.settings.tls.generation;
    if (!this.connections.some((c) => c.generation === generation && c.state === 'READY')) return;
    for (const c of [...this.connections]) {
      if (c.generation === generation) continue;
      this.forget(c);
      if (c.inFlight === 0) c.close();
      else this.retiring.add(c);
    }
  }

  private forget(connection: PodConnection): PodConnection {
    this.connections.splice(this.connections.indexOf(connection), 1);
    return connection;
  }

  private scheduleHealthCheck(): void {
    this.healthTimer = setTimeout(() => void this.runHealthCheck(), this.settings.healthCheckIntervalMs);
    this.healthTimer.unref();
  }

  private async runHealthCheck(): Promise<void> {
    const connection = this.connections.find((c) => c.state === 'READY');
    // Without a READY connection there is nothing to check: connection state already keeps
    // the Pod out of rotation.
    if (connection) {
      const verdict = await checkHealth(connection.channel, this.settings.healthCheckTimeoutMs);
      if (this.closed) return;
      const wasHealthy = this.passing;
      if (verdict === 'alive') {
        this.missedChecks = 0;
        this.passing = true;
      } else {
        this.missedChecks = verdict === 'not-serving' ? UNHEALTHY_AFTER : this.missedChecks + 1;
        if (this.missedChecks >= UNHEALTHY_AFTER) this.passing = false;
      }
      if (this.passing !== wasHealthy) this.events.onHealthChange(this);
    }
    if (!this.closed) this.scheduleHealthCheck();
  }

  private open(): PodConnection {
    const connection = this.settings.connect(() => this.refreshState());
    connection.generation = this.settings.tls.generation;
    this.connections.push(connection);
    this.refreshState();
    return connection;
  }

  private refreshState(): void {
    if (this.closed) return;
    if (this.connections[0]?.generation !== this.settings.tls.generation) this.retireStale();
    const previous = this.current;
    let next: EndpointState = 'TRANSIENT_FAILURE';
    for (const c of this.connections) {
      if (c.state === 'READY') {
        next = 'READY';
        break;
      }
      if (c.state === 'CONNECTING' || c.state === 'IDLE') next = 'CONNECTING';
    }
    this.current = next;
    if (next === 'READY') this.tlsProblem = null;
    if (next !== previous) {
      if (next === 'TRANSIENT_FAILURE') void this.diagnose();
      this.events.onStateChange(this, previous);
    }
  }

  /** Asks the connection why it failed; reports it when TLS is why, once per failure streak. */
  private async diagnose(): Promise<void> {
    const connection = this.connections.find((c) => c.state === 'TRANSIENT_FAILURE');
    if (!connection || this.tlsProblem) return;
    const error = await lastConnectError(connection.channel);
    if (error === null || this.closed) return;
    const { host, port } = this.settings;
    const tls = this.settings.tls.enabled;
    let failure = tlsFailureOf(error, tls);
    if (!failure && !tls && mayExpectTls(error) && (await speaksTls(host, port, TLS_PROBE_TIMEOUT_MS))) {
      failure = EXPECTS_TLS;
    }
    if (!failure || this.closed || this.tlsProblem || this.current === 'READY') return;
    this.tlsProblem = failure;
    this.events.onTlsFailure(this, failure, error);
  }

  /** The least-loaded READY connection; opens another one when all are at the stream threshold. */
  pickConnection(): PodConnection | undefined {
    let best: PodConnection | undefined;
    for (const c of this.connections) {
      if (c.state === 'READY' && (!best || c.inFlight < best.inFlight)) best = c;
    }
    if (
      best &&
      best.inFlight >= this.settings.streamsPerConnection &&
      this.connections.length < this.settings.maxConnectionsPerPod &&
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
    if (this.healthTimer) clearTimeout(this.healthTimer);
    for (const c of this.connections) c.close();
    for (const c of this.retiring) c.close();
    this.retiring.clear();
    this.current = 'SHUTDOWN';
  }

  /** `inRotation` is the pool's verdict (it alone knows about panic mode). */
  snapshot(inRotation: boolean): EndpointSnapshot {
    return {
      address: this.address,
      state: this.state,
      draining: this.draining,
      healthy: this.healthy,
      inRotation,
      // Those draining after a credentials renewal included: they are open until their last call ends.
      connections: this.connections.length + this.retiring.size,
      calls: this.calls,
      failures: this.failures,
      inFlight: this.inFlight,
      firstSeen: this.firstSeen,
      ...(this.zone !== undefined ? { zone: this.zone } : {}),
    };
  }
}
