// A STAND-IN for the Kubernetes API server, serving only discovery.k8s.io/v1 EndpointSlices — for
// tests, the demo and the bench, on machines where no real API server can run. It is not a
// Kubernetes API server. It reproduces the behaviours of a real one that a client of EndpointSlices
// depends on, as the API conventions describe them (API concepts, "Efficient detection of
// changes"; the EndpointSlice v1 reference):
//   - HTTPS (certificate and key given by the caller) and a bearer token: none or a wrong one →
//     401 Unauthorized, a token without the right → 403 Forbidden, as Status objects;
//   - list of a namespace's slices with a label selector (=, ==, !=, exists, !exists; ANDed by
//     commas), a list resourceVersion (metadata.resourceVersion: the store's revision), and
//     pagination with `limit` and an opaque `continue` token (410 Expired once too old);
//   - watch (`watch=1|true`) from a resourceVersion: every change after it as newline-delimited
//     JSON events (ADDED, MODIFIED, DELETED) in one chunked response, BOOKMARK events when
//     `allowWatchBookmarks=true`, the stream closed after `timeoutSeconds`; a resourceVersion
//     older than the kept history → 410 Gone, either as the HTTP status or (like kube-apiserver
//     does for a running watch) as an ERROR event carrying a Status with code 410;
//   - one revision counter for every object, as etcd's; objects get metadata.resourceVersion,
//     uid, creationTimestamp; a restart (same port, same store, like an API server in front of
//     etcd) drops every connection.
// Not reproduced: other resources and verbs (writes go through the methods below), field
// selectors, resourceVersionMatch, sendInitialEvents, protobuf, priority and fairness.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';

export interface StandInEndpoint {
  ip: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
  zone?: string;
}

export interface StandInSlice {
  name: string;
  namespace: string;
  /** The Service it belongs to: the kubernetes.io/service-name label. */
  service: string;
  addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  ports: Array<{ name?: string; port: number; protocol?: string }>;
  endpoints: StandInEndpoint[];
  /** More labels. */
  labels?: Record<string, string>;
}

export interface KubeApiStandInOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** Tokens allowed to list and watch EndpointSlices. */
  tokens: string[];
  /** Tokens that authenticate but may not (→ 403). */
  forbiddenTokens?: string[];
  host?: string;
  port?: number;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK (kube-apiserver: about a minute). */
  bookmarkIntervalMs?: number;
  /** How a too old resourceVersion is refused to a watch: HTTP 410, or an ERROR event in a 200 stream. */
  goneAs?: 'status' | 'event';
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEntry {
  revision: number;
  type: EventType;
  object: SliceObject;
}
type SliceObject = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; namespace: string; labels: Record<string, string>; resourceVersion: string };
};

interface Watcher {
  namespace: string;
  selector: (labels: Record<string, string>) => boolean;
  res: ServerResponse;
}

/** A list or watch of one namespace's slices, as handle() parsed it. */
interface SliceRequest {
  namespace: string;
  selector: (labels: Record<string, string>) => boolean;
  query: Record<string, string>;
  res: ServerResponse;
  record: RecordedRequest;
}

export interface RecordedRequest {
  path: string;
  query: Record<string, string>;
  status: number;
}

const API_PREFIX = '/apis/discovery.k8s.io/v1/namespaces/';

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** A label selector's equality-based and set-existence requirements (no `in`/`notin`). */
export function parseSelector(text: string): (labels: Record<string, string>) => boolean {
  const tests = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '')
    .map((r): ((l: Record<string, string>) => boolean) => {
      let m = /^([^=!\s]+)\s*!=\s*(.*)$/.exec(r);
      if (m) return (l) => l[m![1]!] !== m![2];
      m = /^([^=!\s]+)\s*==?\s*(.*)$/.exec(r);
      if (m) return (l) => l[m![1]!] === m![2];
      if (r.startsWith('!')) return (l) => !(r.slice(1) in l);
      if (/^[^=!\s]+$/.test(r)) return (l) => r in l;
      throw new Error(`unable to parse requirement: ${r}`);
    });
  return (labels) => tests.every((t) => t(labels));
}

export class KubeApiStandIn {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly objects = new Map<string, SliceObject>();
  private history: HistoryEntry[] = [];
  /** Revisions at or below this were compacted away: watching from them is 410 Gone. */
  private compactedThrough = 0;
  private revision = 1;
  private readonly watchers = new Set<Watcher>();
  private readonly snapshots = new Map<string, { revision: number; items: SliceObject[] }>();
  private readonly tokens: Set<string>;
  private readonly forbidden: Set<string>;
  private goneAs: 'status' | 'event';
  private listenPort: number;
  /** Every request, in order (tests read what the client asked for). */
  readonly requests: RecordedRequest[] = [];

  constructor(private readonly o: KubeApiStandInOptions) {
    this.tokens = new Set(o.tokens);
    this.forbidden = new Set(o.forbiddenTokens ?? []);
    this.goneAs = o.goneAs ?? 'event';
    this.listenPort = o.port ?? 0;
  }

  get url(): string {
    return `https://${this.o.host ?? '127.0.0.1'}:${this.listenPort}`;
  }

  async start(): Promise<void> {
    const server = createServer({ cert: this.o.cert, key: this.o.key }, (req, res) => this.handle(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.o.host ?? '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Down: every connection dropped, nothing listening. The store is kept. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Down, then up again on the same port with the same store (an API server restart). */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  /** Forget the change history (etcd compaction): watches from any earlier resourceVersion get 410. */
  compact(): void {
    this.compactedThrough = this.revision;
    this.history = [];
    this.snapshots.clear();
  }

  /** From now on, answer an expired resourceVersion this way. */
  setGoneAs(how: 'status' | 'event'): void {
    this.goneAs = how;
  }

  /** Allow or refuse a token (a revoked RoleBinding, a rotated secret). */
  setToken(token: string, access: 'allowed' | 'forbidden' | 'unknown'): void {
    this.tokens.delete(token);
    this.forbidden.delete(token);
    if (access === 'allowed') this.tokens.add(token);
    if (access === 'forbidden') this.forbidden.add(token);
  }

  /** Send every open watch an ERROR event with a 410 Status, then close it (history compacted under it). */
  expireWatches(): void {
    this.compact();
    for (const w of [...this.watchers]) {
      this.write(w.res, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${this.revision}`) });
      w.res.end();
      this.watchers.delete(w);
    }
  }

  get resourceVersion(): string {
    return String(this.revision);
  }

  /** Create or replace a slice; watches see ADDED or MODIFIED. Returns its resourceVersion. */
  apply(slice: StandInSlice): string {
    const key = `${slice.namespace}/${slice.name}`;
    const existing = this.objects.get(key);
    const revision = ++this.revision;
    const labels = { ...(slice.labels ?? {}), 'kubernetes.io/service-name': slice.service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' };
    const meta = existing?.metadata;
    const object: SliceObject = {
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: {
        name: slice.name,
        namespace: slice.namespace,
        uid: (meta?.uid as string) ?? randomUUID(),
        resourceVersion: String(revision),
        generation: ((meta?.generation as number) ?? 0) + 1,
        creationTimestamp: (meta?.creationTimestamp as string) ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        labels,
      },
      addressType: slice.addressType ?? 'IPv4',
      endpoints: slice.endpoints.map((e) => ({
        addresses: [e.ip],
        conditions: Object.fromEntries(
          (['ready', 'serving', 'terminating'] as const).filter((c) => e[c] !== undefined && e[c] !== null).map((c) => [c, e[c]]),
        ),
        ...(e.zone ? { zone: e.zone } : {}),
      })),
      ports: slice.ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    };
    this.objects.set(key, object);
    this.publish({ revision, type: existing ? 'MODIFIED' : 'ADDED', object });
    return String(revision);
  }

  /** Delete a slice; watches see DELETED. */
  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const existing = this.objects.get(key);
    if (!existing) return;
    this.objects.delete(key);
    const revision = ++this.revision;
    const object = { ...existing, metadata: { ...existing.metadata, resourceVersion: String(revision) } };
    this.publish({ revision, type: 'DELETED', object });
  }

  /** Open watch streams now. */
  get watchCount(): number {
    return this.watchers.size;
  }

  private publish(entry: HistoryEntry): void {
    this.history.push(entry);
    for (const w of this.watchers) {
      if (w.namespace === entry.object.metadata.namespace && w.selector(entry.object.metadata.labels)) {
        this.write(w.res, { type: entry.type, object: entry.object });
      }
    }
  }

  private write(res: ServerResponse, event: unknown): void {
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(event)}\n`);
  }

  private reply(res: ServerResponse, code: number, body: unknown, record: RecordedRequest): void {
    record.status = code;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = { path: url.pathname, query, status: 0 };
    this.requests.push(record);
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!this.tokens.has(token) && !this.forbidden.has(token)) {
      return this.reply(res, 401, status(401, 'Unauthorized', 'Unauthorized'), record);
    }
    const m = new RegExp(`^${API_PREFIX}([^/]+)/endpointslices$`).exec(url.pathname);
    if (!m) return this.reply(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'), record);
    const namespace = decodeURIComponent(m[1]!);
    const watch = query.watch === '1' || query.watch === 'true';
    if (req.method !== 'GET') return this.reply(res, 405, status(405, 'MethodNotAllowed', 'the stand-in serves only GET'), record);
    if (this.forbidden.has(token)) {
      const verb = watch ? 'watch' : 'list';
      return this.reply(
        res,
        403,
        status(
          403,
          'Forbidden',
          `endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:${namespace}:grpc-web-gateway" cannot ${verb} resource "endpointslices" in API group "discovery.k8s.io" in the namespace "${namespace}"`,
        ),
        record,
      );
    }
    let selector: (labels: Record<string, string>) => boolean;
    try {
      selector = parseSelector(query.labelSelector ?? '');
    } catch (err) {
      return this.reply(res, 400, status(400, 'BadRequest', (err as Error).message), record);
    }
    const request: SliceRequest = { namespace, selector, query, res, record };
    if (watch) this.watch(request);
    else this.list(request);
  }

  private list({ namespace, selector, query, res, record }: SliceRequest): void {
    let snapshot: { revision: number; items: SliceObject[] };
    let offset = 0;
    if (query.continue) {
      let token: { id?: string; offset?: number };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString()) as typeof token;
      } catch {
        return this.reply(res, 400, status(400, 'BadRequest', 'continue key is not valid'), record);
      }
      const found = this.snapshots.get(token.id ?? '');
      if (!found) {
        return this.reply(
          res,
          410,
          status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'),
          record,
        );
      }
      snapshot = found;
      offset = token.offset ?? 0;
    } else {
      const items = [...this.objects.values()]
        .filter((o) => o.metadata.namespace === namespace && selector(o.metadata.labels))
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      snapshot = { revision: this.revision, items };
    }
    const limit = Number(query.limit ?? 0);
    const page = limit > 0 ? snapshot.items.slice(offset, offset + limit) : snapshot.items.slice(offset);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.revision) };
    if (limit > 0 && offset + limit < snapshot.items.length) {
      const id = randomUUID();
      this.snapshots.set(id, snapshot);
      if (this.snapshots.size > 64) this.snapshots.delete(this.snapshots.keys().next().value!);
      metadata.continue = Buffer.from(JSON.stringify({ id, offset: offset + limit })).toString('base64url');
      metadata.remainingItemCount = snapshot.items.length - offset - limit;
    }
    this.reply(res, 200, { kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata, items: page }, record);
  }

  private watch({ namespace, selector, query, res, record }: SliceRequest): void {
    const from = query.resourceVersion ?? '';
    const fromRevision = Number(from);
    const expired = from !== '' && from !== '0' && (!Number.isInteger(fromRevision) || fromRevision < this.compactedThrough);
    if (expired && this.goneAs === 'status') {
      return this.reply(res, 410, status(410, 'Expired', `too old resource version: ${from} (${this.revision})`), record);
    }
    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (expired) {
      this.write(res, { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.revision})`) });
      res.end();
      return;
    }
    const watcher: Watcher = { namespace, selector, res };
    const mine = (o: SliceObject): boolean => o.metadata.namespace === namespace && selector(o.metadata.labels);
    if (from === '' || from === '0') {
      // "Start at most recent" / "any": the current objects as ADDED, then changes.
      for (const o of this.objects.values()) if (mine(o)) this.write(res, { type: 'ADDED', object: o });
    } else {
      for (const e of this.history) if (e.revision > fromRevision && mine(e.object)) this.write(res, { type: e.type, object: e.object });
    }
    this.watchers.add(watcher);
    const timers: NodeJS.Timeout[] = [];
    const timeoutSeconds = Number(query.timeoutSeconds ?? 0);
    if (timeoutSeconds > 0) timers.push(setTimeout(() => res.end(), timeoutSeconds * 1000));
    if (query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1') {
      timers.push(
        setInterval(() => {
          this.write(res, {
            type: 'BOOKMARK',
            object: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(this.revision) } },
          });
        }, this.o.bookmarkIntervalMs ?? 1000),
      );
    }
    res.on('close', () => {
      for (const t of timers) clearTimeout(t);
      this.watchers.delete(watcher);
    });
  }
}
