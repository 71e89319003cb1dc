// k8s:///SERVICE.NAMESPACE:PORT: list, then watch, the Service's EndpointSlices, following the
// API conventions ("Efficient detection of changes"): list with a label selector and pages, watch
// from the list's resourceVersion with bookmarks, re-watch from the last resourceVersion seen when
// a watch ends, list again when the server says that version is gone (410, as the watch's HTTP
// status or as an ERROR event inside a running watch), and list again every few minutes anyway.
// While the API server is unreachable or refuses (401/403), the last known Pods stay in use, as
// after a DNS failure; the reason is logged once per streak and shown in /endpoints and metrics.
import type { Logger } from '../../logger.js';
import type { Resolver, ResolverListener, ResolverStats } from '../../types.js';
import type { KubeAccess } from './access.js';
import { KubeApiClient, KubeApiError, type WatchEvent } from './api-client.js';
import { joinSlices, SERVICE_NAME_LABEL, slicesWithoutPort, type EndpointSlice } from './slices.js';

export interface K8sResolverOptions {
  service: string;
  namespace: string;
  /** The Pods' port number, or the name of the Service's port. */
  port: number | string;
  access: KubeAccess;
  logger: Logger;
  /** The safety-net relist; default 5 minutes. */
  relistIntervalMs?: number;
  /** First reconnection delay after a failure, doubled up to maxBackoffMs; defaults 250 ms and 4 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Items per list page (the API's `limit`); default 500. */
  pageSize?: number;
  /** timeoutSeconds of one watch; default random in 5-10 minutes, like client-go's reflector. */
  watchTimeoutSeconds?: () => number;
}

type WatchOutcome = 'expired' | 'closed';

/** A watch shorter than this that ends normally is treated as a failure for pacing (no tight loop). */
const SHORTEST_HEALTHY_WATCH_MS = 1000;

export class K8sResolver implements Resolver {
  private readonly client: KubeApiClient;
  private readonly base: string;
  private readonly selector: string;
  private slices = new Map<string, EndpointSlice>();
  private resourceVersion = '';
  private listener: ResolverListener | null = null;
  private stopped = false;
  private current: { abort(): void } | null = null;
  private sleeping: { timer: NodeJS.Timeout; wake(): void } | null = null;
  private readonly counters: ResolverStats = { lookups: 0, failures: 0, lastSuccess: 0 };
  /** The message of the failure streak in progress (logged once), null while all is well. */
  private failing: string | null = null;
  private backoffMs = 0;
  /** The set last reported (null before the first report, which is made even when empty). */
  private lastSet: string | null = null;
  private lastMissingPort = '';

  constructor(private readonly o: K8sResolverOptions) {
    this.client = new KubeApiClient(o.access);
    this.base = `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/endpointslices`;
    this.selector = encodeURIComponent(`${SERVICE_NAME_LABEL}=${o.service}`);
    this.resetBackoff();
  }

  start(listener: ResolverListener): void {
    if (this.listener) throw new Error('K8sResolver already started');
    this.listener = listener;
    queueMicrotask(() => void this.run());
  }

  /** Nothing to do: the watch reports every change as it happens. */
  refresh(): void {}

  stop(): void {
    this.stopped = true;
    this.current?.abort();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
    this.client.close();
  }

  stats(): ResolverStats {
    return { ...this.counters, failing: this.failing !== null };
  }

  private async run(): Promise<void> {
    let listNeeded = true;
    let relistAt = 0;
    while (!this.stopped) {
      try {
        if (listNeeded || Date.now() >= relistAt) {
          await this.list();
          listNeeded = false;
          relistAt = Date.now() + (this.o.relistIntervalMs ?? 300_000);
        }
        const opened = Date.now();
        const outcome = await this.watch(relistAt);
        if (outcome === 'expired') listNeeded = true;
        // A watch the server keeps ending at once is paced like a failure; one that ran resets the pace.
        else if (Date.now() - opened < SHORTEST_HEALTHY_WATCH_MS) await this.sleep(this.nextBackoff());
        else this.resetBackoff();
      } catch (err) {
        if (this.stopped) return;
        this.failed(err as Error);
        await this.sleep(this.nextBackoff());
      }
    }
  }

  private async list(): Promise<void> {
    const slices = new Map<string, EndpointSlice>();
    const limit = this.o.pageSize ?? 500;
    let next = '';
    let resourceVersion = '';
    do {
      const page = `${this.base}?labelSelector=${this.selector}&limit=${limit}${next ? `&continue=${encodeURIComponent(next)}` : ''}`;
      this.counters.lookups++;
      const request = this.client.getJson(page);
      this.current = request;
      const answer = await request.result;
      const items = answer.items;
      if (!Array.isArray(items)) throw new Error('the API server answered a list without items');
      for (const item of items as EndpointSlice[]) if (this.isOurs(item)) slices.set(item.metadata.name, item);
      const meta = (answer.metadata ?? {}) as { resourceVersion?: unknown; continue?: unknown };
      resourceVersion = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
      next = typeof meta.continue === 'string' ? meta.continue : '';
    } while (next !== '' && !this.stopped);
    if (this.stopped) return;
    this.slices = slices;
    this.resourceVersion = resourceVersion;
    this.succeeded();
    this.resetBackoff();
    this.report();
  }

  private watch(relistAt: number): Promise<WatchOutcome> {
    const wanted = this.o.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    const timeoutSeconds = Math.max(1, Math.min(wanted, Math.ceil((relistAt - Date.now()) / 1000)));
    const url =
      `${this.base}?labelSelector=${this.selector}&allowWatchBookmarks=true&watch=1` +
      `&resourceVersion=${encodeURIComponent(this.resourceVersion)}&timeoutSeconds=${timeoutSeconds}`;
    this.counters.lookups++;
    return new Promise<WatchOutcome>((resolve, reject) => {
      const settle = (outcome: WatchOutcome | Error): void => {
        watch.abort();
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      // The server closes the stream after timeoutSeconds; a connection silent well past that is dead.
      const watch: { abort(): void } = this.client.watch(url, (timeoutSeconds + 30) * 1000, {
        onOpen: () => this.succeeded(),
        onEvent: (event) => {
          const outcome = this.apply(event);
          if (outcome !== undefined) settle(outcome);
        },
        onEnd: (error) => {
          if (error instanceof KubeApiError && error.code === 410) settle('expired');
          else settle(error ?? 'closed');
        },
      });
      // stop() ends the loop waiting here too.
      this.current = { abort: () => settle(new Error('stopped')) };
    });
  }

  /** One watch event; returns how the watch ends when the event ends it. */
  private apply(event: WatchEvent): WatchOutcome | Error | undefined {
    if (event.type === 'ERROR') {
      const status = event.object as { code?: unknown; reason?: unknown; message?: unknown };
      const code = typeof status.code === 'number' ? status.code : 500;
      if (code === 410) return 'expired';
      return new KubeApiError(code, String(status.reason ?? ''), String(status.message ?? 'watch error'));
    }
    const slice = event.object as unknown as EndpointSlice;
    const version = slice.metadata?.resourceVersion;
    if (typeof version === 'string' && version !== '') this.resourceVersion = version;
    this.counters.lastSuccess = Date.now();
    if (event.type === 'BOOKMARK' || typeof slice.metadata?.name !== 'string') return undefined;
    if (event.type === 'DELETED') this.slices.delete(slice.metadata.name);
    else if (this.isOurs(slice)) this.slices.set(slice.metadata.name, slice);
    else this.slices.delete(slice.metadata.name); // relabelled away from the Service
    this.report();
    return undefined;
  }

  private isOurs(slice: EndpointSlice): boolean {
    return typeof slice?.metadata?.name === 'string' && slice.metadata.labels?.[SERVICE_NAME_LABEL] === this.o.service;
  }

  /** Tells the pool the joined set when it changed. */
  private report(): void {
    const addresses = joinSlices(this.slices.values(), this.o.port);
    const key = addresses.map((a) => `${a.host}|${a.port}|${a.draining ? 1 : 0}|${a.zone ?? ''}`).join(',');
    const missing = slicesWithoutPort(this.slices.values(), this.o.port).join(',');
    if (missing !== this.lastMissingPort) {
      this.lastMissingPort = missing;
      if (missing !== '') {
        this.o.logger.warn(
          { service: `${this.o.service}.${this.o.namespace}`, port: this.o.port, slices: missing },
          'EndpointSlices without the named port; their Pods are not used',
        );
      }
    }
    if (key === this.lastSet) return;
    this.lastSet = key;
    this.listener?.onAddresses(addresses);
  }

  /** The API answered: the failure streak, if any, is over (the pace of retries is reset by run()). */
  private succeeded(): void {
    this.counters.lastSuccess = Date.now();
    if (this.failing !== null) {
      this.failing = null;
      this.o.logger.info({ service: `${this.o.service}.${this.o.namespace}` }, 'Kubernetes API answers again');
    }
  }

  private failed(error: Error): void {
    this.counters.failures++;
    const message = this.describe(error);
    this.counters.lastError = message;
    if (message === this.failing) return;
    this.failing = message;
    this.listener?.onError(new Error(message));
  }

  private describe(error: Error): string {
    const what = `endpointslices of ${this.o.service} in namespace ${this.o.namespace}`;
    if (!(error instanceof KubeApiError)) return `Kubernetes API (${this.o.access.server}) unreachable: ${error.message}`;
    if (error.code === 401) {
      return `401 Unauthorized: the Kubernetes API refused the credentials of the ${this.o.access.source} (${error.message})`;
    }
    if (error.code === 403) {
      return (
        `403 Forbidden: may not read ${what} (${error.message}); RBAC: grant the gateway's service account ` +
        `get, list and watch on endpointslices (API group discovery.k8s.io) in namespace ${this.o.namespace} (a Role and a RoleBinding)`
      );
    }
    return `${error.code}${error.reason ? ` ${error.reason}` : ''} from the Kubernetes API reading ${what}: ${error.message}`;
  }

  private resetBackoff(): void {
    this.backoffMs = this.o.initialBackoffMs ?? 250;
  }

  private nextBackoff(): number {
    const delay = this.backoffMs * (0.8 + Math.random() * 0.4);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 4000);
    return delay;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleeping = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping = { timer, wake };
    });
  }
}
