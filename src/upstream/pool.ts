import { status as Status, type StatusObject } from '@grpc/grpc-js';
import type { TargetSpec, UpstreamOptions } from '../config/types.js';
import { createBalancer, type Balancer } from './balancer/index.js';
import { connectorFactory, type Connector } from './connector.js';
import type { CredentialUser, UpstreamCredentials } from './credentials.js';
import { Endpoint } from './endpoint.js';
import type { Logger } from './logger.js';
import { PoolCall, type CallHost, type CallPlace, type CallSettings, type RetryKind } from './pool-call.js';
import { RetryBudget, retryPolicy } from './retry/index.js';
import { PodTls } from './tls.js';
import { noReadyBackendText, type TlsFailure } from './tls-failure.js';
import type {
  CallListener,
  CallRequest,
  EndpointState,
  ResolvedAddress,
  Resolver,
  StreamCallRequest,
  Upstream,
  UpstreamCall,
  UpstreamSnapshot,
  UpstreamStreamCall,
} from './types.js';

export interface PoolSettings {
  name: string;
  target: TargetSpec;
  resolver: Resolver;
  options: UpstreamOptions;
  /** The credentials of options.tls, made once and shared (and reloaded) for every pool; made here when absent. */
  credentials?: UpstreamCredentials;
  maxMessageBytes: number;
  logger: Logger;
}

function addressKey(a: ResolvedAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * The Pods of one upstream target: one Endpoint per address the resolver reports, calls
 * spread over the READY ones by the balancer. Addresses that leave DNS drain: no new calls,
 * in-flight ones finish (bounded by podDrainTimeoutMs), then the connections close.
 */
export class PodPool implements Upstream, CallHost, CredentialUser {
  readonly name: string;
  readonly callSettings: CallSettings;
  readonly passthrough: boolean;
  closing = false;
  /** Calls sent again, by why. */
  readonly retries: Record<RetryKind, number> = { transparent: 0, policy: 0 };

  private readonly endpoints = new Map<string, Endpoint>();
  /**
   * The endpoints in rotation — READY, not draining, and passing health checks (or, when every
   * such one fails them, all of those: panic) — the one definition that picks, readiness and
   * the admin views read. Replaced, never mutated, so balancers may hold on to it.
   */
  private rotation: Endpoint[] = [];
  private panic = false;
  /** Every call started and not yet ended (attempting, parked, or waiting out a backoff). */
  private readonly calls = new Set<PoolCall>();
  private readonly parked = new Set<PoolCall>();
  private readonly retryBudget: RetryBudget;
  private readonly active = new Map<Endpoint, Set<PoolCall>>();
  private readonly drainTimers = new Map<Endpoint, NodeJS.Timeout>();
  private readonly balancer: Balancer<Endpoint>;
  private readonly connectorFor: (host: string, port: number) => Connector;
  private readonly tls: PodTls;
  private totalInFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly settings: PoolSettings) {
    this.name = settings.name;
    this.passthrough = settings.options.client === 'http2';
    this.callSettings = {
      name: settings.name,
      maxRetries: settings.options.maxRetries,
      retryPolicy: retryPolicy(settings.options.retryPolicy),
      connectTimeoutMs: settings.options.connectTimeoutMs,
      retryBufferBytes: settings.options.retryBufferBytes,
    };
    this.retryBudget = new RetryBudget(settings.options.retryPolicy?.budgetPercent ?? 20);
    this.balancer = createBalancer<Endpoint>(settings.options.balancer, settings.options.preferZone);
    this.tls = new PodTls(settings.target, settings.options.tls, settings.credentials);
    this.connectorFor = connectorFactory(settings.options.client, this.tls, {
      connectTimeoutMs: settings.options.connectTimeoutMs,
      keepalivePingIntervalMs: settings.options.keepalivePingIntervalMs,
      keepalivePingTimeoutMs: settings.options.keepalivePingTimeoutMs,
      maxMessageBytes: settings.maxMessageBytes,
    });
  }

  start(): void {
    this.tls.source.attach(this);
    this.settings.resolver.start({
      onAddresses: (addresses) => this.setAddresses(addresses),
      onError: (error) =>
        this.settings.logger.warn(
          { upstream: this.name, err: error.message, endpoints: this.endpoints.size },
          'resolve failed; keeping the last known Pods',
        ),
    });
  }

  // ---- membership ------------------------------------------------------------------
  setAddresses(addresses: ResolvedAddress[]): void {
    if (this.closing) return;
    // A draining address (terminating, still serving) is treated exactly like one that left:
    // kept while its calls finish, never added.
    const wanted = new Map<string, ResolvedAddress>();
    let terminating: Set<string> | undefined;
    for (const a of addresses) {
      if (a.draining) (terminating ??= new Set()).add(addressKey(a));
      else wanted.set(addressKey(a), a);
    }
    for (const [key, address] of wanted) {
      const existing = this.endpoints.get(key);
      if (!existing) {
        this.addEndpoint(key, address);
        continue;
      }
      existing.zone = address.zone;
      if (existing.draining) {
        existing.stopDraining();
        clearTimeout(this.drainTimers.get(existing));
        this.drainTimers.delete(existing);
        this.settings.logger.info({ upstream: this.name, endpoint: key }, 'Pod is back; drain cancelled');
      }
    }
    for (const [key, endpoint] of this.endpoints) {
      if (!wanted.has(key) && !endpoint.draining) this.drain(endpoint, terminating?.has(key) === true);
    }
    this.recomputeReady();
  }

  private addEndpoint(key: string, address: ResolvedAddress): void {
    const o = this.settings.options;
    const endpoint = new Endpoint(
      key,
      {
        connect: this.connectorFor(address.host, address.port),
        host: address.host,
        port: address.port,
        tls: this.tls,
        streamsPerConnection: o.streamsPerConnection,
        maxConnectionsPerPod: o.maxConnectionsPerPod,
        healthCheckIntervalMs: o.healthCheckIntervalMs,
        healthCheckTimeoutMs: o.healthCheckTimeoutMs,
      },
      {
        onStateChange: (ep, previous) => this.onEndpointState(ep, previous),
        onHealthChange: (ep) => this.onEndpointHealth(ep),
        onTlsFailure: (ep, failure, error) => this.onEndpointTlsFailure(ep, failure, error),
      },
    );
    endpoint.zone = address.zone;
    this.endpoints.set(key, endpoint);
    this.settings.logger.info({ upstream: this.name, endpoint: key, zone: address.zone }, 'Pod added');
  }

  private drain(endpoint: Endpoint, terminating: boolean): void {
    endpoint.startDraining();
    this.settings.logger.info(
      { upstream: this.name, endpoint: endpoint.address, inFlight: endpoint.inFlight },
      terminating ? 'Pod is terminating; draining' : 'Pod left discovery; draining',
    );
    if (endpoint.inFlight === 0) {
      this.remove(endpoint);
      return;
    }
    const timer = setTimeout(() => {
      const calls = this.active.get(endpoint);
      this.settings.logger.warn(
        { upstream: this.name, endpoint: endpoint.address, inFlight: endpoint.inFlight },
        'drain timeout; cancelling the calls still on this Pod',
      );
      for (const call of calls ?? []) call.cancelWith(Status.UNAVAILABLE, 'Pod removed and its drain timed out');
      this.remove(endpoint);
    }, this.settings.options.podDrainTimeoutMs);
    timer.unref();
    this.drainTimers.set(endpoint, timer);
  }

  private remove(endpoint: Endpoint): void {
    clearTimeout(this.drainTimers.get(endpoint));
    this.drainTimers.delete(endpoint);
    if (this.endpoints.get(endpoint.address) === endpoint) this.endpoints.delete(endpoint.address);
    endpoint.close();
    this.settings.logger.info({ upstream: this.name, endpoint: endpoint.address }, 'Pod removed');
    this.recomputeReady();
  }

  private onEndpointState(endpoint: Endpoint, previous: EndpointState): void {
    const log = this.settings.logger;
    if (endpoint.state === 'READY' || previous === 'READY') {
      log.info({ upstream: this.name, endpoint: endpoint.address, state: endpoint.state, previous }, 'Pod state');
    } else {
      log.debug({ upstream: this.name, endpoint: endpoint.address, state: endpoint.state, previous }, 'Pod state');
    }
    // A Pod that dropped its connection may be gone for good: ask DNS now, not at the next tick.
    if (previous === 'READY' && endpoint.state !== 'READY') this.settings.resolver.refresh();
    this.recomputeReady();
  }

  private onEndpointHealth(endpoint: Endpoint): void {
    if (endpoint.healthy) {
      this.settings.logger.info({ upstream: this.name, endpoint: endpoint.address }, 'Pod answers health checks again');
    } else {
      this.settings.logger.warn(
        { upstream: this.name, endpoint: endpoint.address, inFlight: endpoint.inFlight },
        'Pod failed its health checks; out of rotation',
      );
      this.settings.resolver.refresh();
    }
    this.recomputeReady();
  }

  private onEndpointTlsFailure(endpoint: Endpoint, failure: TlsFailure, error: string): void {
    this.settings.logger.warn(
      { upstream: this.name, endpoint: endpoint.address, serverName: this.tls.serverName, reason: failure.reason, err: error },
      'TLS to the Pod failed; out of rotation until a connection succeeds',
    );
  }

  private recomputeReady(): void {
    const healthy: Endpoint[] = [];
    let unhealthy: Endpoint[] | null = null;
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.state !== 'READY' || endpoint.draining) continue;
      if (endpoint.healthy) healthy.push(endpoint);
      else (unhealthy ??= []).push(endpoint);
    }
    // When every connected Pod fails its health checks, a failing health service is likelier
    // than every Pod being dead: keep serving through them (Envoy's "panic" mode) rather than
    // failing every call.
    this.panic = healthy.length === 0 && unhealthy !== null;
    this.rotation = this.panic ? unhealthy! : healthy;
    if (this.rotation.length > 0 && this.parked.size > 0) {
      for (const call of [...this.parked]) call.retryStart();
    }
  }

  // ---- CallHost ----------------------------------------------------------------------
  noReadyBackendText(): string {
    return noReadyBackendText(this.endpoints.values());
  }

  pick(exclude: ReadonlySet<Endpoint> | undefined): Endpoint | undefined {
    return this.balancer.pick(this.rotation, exclude);
  }

  moved(call: PoolCall, from: CallPlace, to: CallPlace): void {
    if (from === 'new') this.calls.add(call);
    else if (from === 'parked') this.parked.delete(call);
    else if (typeof from === 'object') this.attemptEnded(from, call);
    if (to === 'ended') this.calls.delete(call);
    else if (to === 'parked') this.parked.add(call);
    else if (typeof to === 'object') this.attemptStarted(to, call);
  }

  acquireRetry(): boolean {
    return this.retryBudget.tryAcquire(this.calls.size);
  }

  releaseRetry(): void {
    this.retryBudget.release();
  }

  private attemptStarted(endpoint: Endpoint, call: PoolCall): void {
    this.totalInFlight++;
    let calls = this.active.get(endpoint);
    if (!calls) this.active.set(endpoint, (calls = new Set()));
    calls.add(call);
  }

  private attemptEnded(endpoint: Endpoint, call: PoolCall): void {
    this.totalInFlight--;
    const calls = this.active.get(endpoint);
    calls?.delete(call);
    if (calls && calls.size === 0) this.active.delete(endpoint);
    if (endpoint.draining && endpoint.inFlight === 0) this.remove(endpoint);
    if (this.totalInFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  retried(endpoint: Endpoint, status: StatusObject, kind: RetryKind): void {
    this.retries[kind]++;
    this.settings.logger.debug(
      { upstream: this.name, endpoint: endpoint.address, code: status.code, details: status.details, kind },
      kind === 'transparent'
        ? 'retrying on another Pod a call this Pod never processed'
        : 'retrying on another Pod (retry policy)',
    );
  }

  // ---- Upstream ----------------------------------------------------------------------
  call(request: CallRequest, listener: CallListener): UpstreamCall {
    // The same call: a CallRequest brings its one message along (see PoolCall).
    return this.callStream(request, listener);
  }

  callStream(request: StreamCallRequest, listener: CallListener): UpstreamStreamCall {
    const call = new PoolCall(this, request, listener);
    call.start();
    return call;
  }

  isReady(): boolean {
    return this.rotation.length > 0;
  }

  snapshot(): UpstreamSnapshot {
    const endpoints = [...this.endpoints.values()].map((e) => e.snapshot(this.rotation.includes(e)));
    endpoints.sort((a, b) => a.firstSeen - b.firstSeen || a.address.localeCompare(b.address));
    return {
      name: this.name,
      target: this.settings.target.text,
      kind: this.settings.target.kind,
      balancer: this.balancer.name,
      ...(this.settings.options.preferZone ? { preferZone: this.settings.options.preferZone } : {}),
      endpoints,
      panic: this.panic,
      retries: this.retries.transparent + this.retries.policy,
      policyRetries: this.retries.policy,
      retryBudgetExhausted: this.retryBudget.exhausted,
      resolver: this.settings.resolver.stats(),
    };
  }

  /** New TLS credentials: every Pod gets a connection made with them; the old ones drain. */
  renewConnections(): void {
    if (this.closing) return;
    for (const endpoint of this.endpoints.values()) if (!endpoint.draining) endpoint.renewConnections();
    this.settings.logger.info({ upstream: this.name, endpoints: this.endpoints.size }, 'upstream TLS credentials renewed: new connections to every Pod, the old ones drain');
  }

  async close(drainMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.tls.source.detach(this);
    this.settings.resolver.stop();
    // Calls not on a Pod now (parked, or waiting out a retry backoff) will never get one.
    for (const call of [...this.calls]) {
      if (!call.onPod) call.cancelWith(Status.UNAVAILABLE, 'gateway is shutting down');
    }
    if (this.totalInFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, drainMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const call of [...this.calls]) call.cancelWith(Status.UNAVAILABLE, 'gateway is shutting down');
    for (const endpoint of this.endpoints.values()) endpoint.close();
    for (const timer of this.drainTimers.values()) clearTimeout(timer);
    this.endpoints.clear();
    this.rotation = [];
  }

}
