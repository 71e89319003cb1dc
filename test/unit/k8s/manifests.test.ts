// The manifests in k8s/: each kustomization renders with a real kustomize, every rendered object is
// valid for its Kubernetes schema, and every gateway container is configured the way the gateway's
// own config loader reads it (flags, GWG_* environment, the mounted YAML file), with the probes,
// ports, grace period and security settings that configuration needs.
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, settingsTable, type Config } from '../../../src/config/index.js';
import {
  REPO,
  findRenderer,
  isGatewayContainer,
  modelClass,
  parseArgs,
  portNumber,
  selects,
  workloads,
  type K8sObject,
} from './render.js';

const DIRS = ['k8s/base', 'k8s/example-backend', 'k8s/overlays/edge', 'k8s/overlays/sidecar'] as const;

const renderer = findRenderer();
// This project's machines have kubectl (1.32, kustomize v5) preinstalled. Without a usable
// kustomize these tests fail with the reason; they are never skipped.

const rendered = new Map<string, K8sObject[]>();
function objects(dir: string): K8sObject[] {
  const objs = rendered.get(dir);
  if (!objs) throw new Error(`${dir} was not rendered`);
  return objs;
}

const table = settingsTable();
const byFlag = new Map(table.map((r) => [r.flag, r]));
const byEnv = new Map(table.filter((r) => r.env).map((r) => [r.env, r]));
const byYaml = new Map(table.filter((r) => r.yaml).map((r) => [r.yaml, r]));

interface GatewayView {
  where: string;
  workload: K8sObject;
  pod: any;
  container: any;
  config: Config;
  /** Setting names (flag without dashes) given by each source. */
  fromArgs: string[];
  fromEnv: string[];
  fromYaml: string[];
}

/** Reads a gateway container's configuration exactly as the gateway will (src/config loadConfig). */
function gatewayView(dir: string, objs: K8sObject[], workload: K8sObject, container: any): GatewayView {
  const where = `${dir}: ${workload.kind}/${workload.metadata.name} container ${container.name}`;
  const pod = workload.spec.template.spec;
  const args: string[] = [...(container.command ?? []).slice(0), ...(container.args ?? [])].filter(
    (a: string) => !['node', 'dist/cli.js', 'grpc-web-gateway'].includes(a),
  );
  const pairs = parseArgs(args);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) if (e.name.startsWith('GWG_') && typeof e.value === 'string') env[e.name] = e.value;

  // The --config file: a mounted ConfigMap key.
  const files = new Map<string, string>();
  for (const m of container.volumeMounts ?? []) {
    const vol = (pod.volumes ?? []).find((v: any) => v.name === m.name);
    if (!vol?.configMap) continue;
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === vol.configMap.name);
    if (!cm) throw new Error(`${where}: volume ${vol.name} names ConfigMap ${vol.configMap.name}, which is not in the render`);
    const items: Array<{ key: string; path: string }> =
      vol.configMap.items ?? Object.keys(cm.data ?? {}).map((k) => ({ key: k, path: k }));
    for (const it of items) files.set(`${m.mountPath.replace(/\/$/, '')}/${m.subPath ? '' : it.path}`.replace(/\/$/, ''), cm.data![it.key]!);
    if (m.subPath) files.set(m.mountPath, cm.data![m.subPath]!);
  }
  const configPath = pairs.find(([f]) => f === '--config')?.[1] ?? env.GWG_CONFIG;
  let fromYaml: string[] = [];
  if (configPath !== undefined) {
    const text = files.get(configPath);
    if (text === undefined) throw new Error(`${where}: --config ${configPath} is not a mounted ConfigMap key`);
    fromYaml = Object.keys((parseYaml(text) as Record<string, unknown> | null) ?? {});
  }
  const result = loadConfig(args, env, (p) => {
    const text = files.get(p);
    if (text === undefined) throw new Error(`no such file in the Pod: ${p}`);
    return text;
  });
  if (!('config' in result)) throw new Error(`${where}: args ask for --help/--version`);
  return {
    where,
    workload,
    pod,
    container,
    config: result.config,
    fromArgs: pairs.map(([f]) => f.slice(2)),
    fromEnv: Object.keys(env).map((e) => byEnv.get(e)?.yaml || e),
    fromYaml,
  };
}

function gatewaysOf(dir: string): GatewayView[] {
  const objs = objects(dir);
  const out: GatewayView[] = [];
  for (const w of workloads(objs)) {
    for (const c of w.spec.template.spec.containers) if (isGatewayContainer(c)) out.push(gatewayView(dir, objs, w, c));
  }
  return out;
}

describe('k8s manifests', () => {
  beforeAll(() => {
    if (!renderer.ok) throw new Error(`no kustomize v4+ is available (install kubectl 1.21+): ${renderer.why}`);
    for (const dir of DIRS) rendered.set(dir, renderer.render(`${REPO}${dir}`));
  });

  describe.each(DIRS)('%s', (dir) => {
    it('renders to named objects', () => {
      const objs = objects(dir);
      expect(objs.length).toBeGreaterThan(0);
      for (const o of objs) {
        expect(o.apiVersion, JSON.stringify(o.metadata)).toBeTruthy();
        expect(o.metadata?.name).toBeTruthy();
      }
    });

    it('every object validates against its Kubernetes schema (kubernetes-models)', async () => {
      for (const o of objects(dir)) {
        const Model = await modelClass(o.apiVersion, o.kind);
        expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    });

    it('every workload container runs non-root, read-only, without privileges, seccomp RuntimeDefault, with resources', () => {
      for (const w of workloads(objects(dir))) {
        const pod = w.spec.template.spec;
        expect(pod.automountServiceAccountToken, `${w.metadata.name}: no API token needed`).toBe(false);
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const where = `${w.metadata.name}/${c.name}`;
          const sc = c.securityContext ?? {};
          const psc = pod.securityContext ?? {};
          expect(sc.runAsNonRoot ?? psc.runAsNonRoot, where).toBe(true);
          expect(sc.runAsUser ?? psc.runAsUser, where).toBe(10001);
          expect(sc.readOnlyRootFilesystem, where).toBe(true);
          expect(sc.allowPrivilegeEscalation, where).toBe(false);
          expect(sc.privileged ?? false, where).toBe(false);
          expect(sc.capabilities?.drop, where).toContain('ALL');
          expect(sc.capabilities?.add ?? [], where).toEqual([]);
          expect((sc.seccompProfile ?? psc.seccompProfile)?.type, where).toBe('RuntimeDefault');
          for (const r of ['cpu', 'memory']) {
            expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeTruthy();
            expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeTruthy();
          }
        }
      }
    });

    it('Services select Pods of the render, on ports those Pods have', () => {
      const objs = objects(dir);
      for (const svc of objs.filter((o) => o.kind === 'Service')) {
        const pods = workloads(objs).filter((w) => selects(svc.spec.selector, w.spec.template.metadata?.labels));
        if (dir === 'k8s/base') continue; // the base's Service is checked through the overlays
        expect(pods.length, `Service ${svc.metadata.name} selects no workload`).toBeGreaterThan(0);
        for (const p of svc.spec.ports) {
          for (const w of pods) {
            const containers = w.spec.template.spec.containers;
            const has = containers.some((c: any) =>
              (c.ports ?? []).some((cp: any) => cp.name === p.targetPort || cp.containerPort === (p.targetPort ?? p.port)),
            );
            expect(has, `Service ${svc.metadata.name} port ${p.name} → ${p.targetPort} not on ${w.metadata.name}`).toBe(true);
          }
        }
      }
    });

    it('every gateway container: flags, env and YAML keys exist in the CLI, each setting given once', () => {
      const gws = gatewaysOf(dir);
      if (dir === 'k8s/example-backend') {
        expect(gws).toEqual([]);
        return;
      }
      expect(gws.length).toBeGreaterThan(0);
      for (const g of gws) {
        const args = parseArgs(g.container.args ?? []);
        for (const [flag] of args) expect(byFlag.has(flag), `${g.where}: unknown flag ${flag}`).toBe(true);
        const counts = new Map<string, number>();
        for (const [flag] of args) counts.set(flag, (counts.get(flag) ?? 0) + 1);
        for (const [flag, n] of counts) if (!byFlag.get(flag)?.repeatable) expect(n, `${g.where}: ${flag} given ${n} times`).toBe(1);
        for (const e of g.container.env ?? []) {
          if (e.name.startsWith('GWG_')) expect(byEnv.has(e.name), `${g.where}: unknown env ${e.name}`).toBe(true);
        }
        for (const key of g.fromYaml) expect(byYaml.has(key), `${g.where}: unknown YAML key ${key}`).toBe(true);
        // Precedence would make a duplicate silently win or lose: every setting in one place only.
        const sources = [g.fromArgs.filter((f) => f !== 'config'), g.fromEnv, g.fromYaml];
        const seen = new Map<string, number>();
        sources.forEach((names, i) => new Set(names).forEach((n) => seen.set(n, (seen.get(n) ?? 0) | (1 << i))));
        for (const [name, mask] of seen) expect([1, 2, 4], `${g.where}: ${name} is set in more than one source`).toContain(mask);
      }
    });

    it('every gateway container: liveness on the admin port, readiness on the serving port, ports match, grace period outlasts shutdown', () => {
      for (const g of gatewaysOf(dir)) {
        const { config: cfg, container: c, pod } = g;
        expect(cfg.admin, `${g.where}: probes need the admin listener`).not.toBeNull();
        expect(cfg.admin!.host).toBe('0.0.0.0'); // the kubelet probes the Pod IP
        expect(cfg.listen.host).toBe('0.0.0.0');
        expect(portNumber(c, 'http'), `${g.where}: containerPort http = --listen port`).toBe(cfg.listen.port);
        expect(portNumber(c, 'admin'), `${g.where}: containerPort admin = --admin port`).toBe(cfg.admin!.port);

        expect(c.livenessProbe?.httpGet?.path, g.where).toBe('/healthz');
        expect(portNumber(c, c.livenessProbe.httpGet.port), g.where).toBe(cfg.admin!.port);
        expect(c.readinessProbe?.httpGet?.path, g.where).toBe('/readyz');
        // On the serving port, so that a load balancer's inferred health check probes it there.
        expect(portNumber(c, c.readinessProbe.httpGet.port), g.where).toBe(cfg.listen.port);
        expect(c.readinessProbe.httpGet.scheme ?? 'HTTP', g.where).toBe(cfg.tls ? 'HTTPS' : 'HTTP');

        const ann = g.workload.spec.template.metadata?.annotations ?? {};
        expect(ann['prometheus.io/scrape'], g.where).toBe('true');
        expect(Number(ann['prometheus.io/port']), g.where).toBe(cfg.admin!.port);
        expect(ann['prometheus.io/path'], g.where).toBe('/metrics');

        // SIGTERM → keep serving --shutdown-delay → drain in-flight calls --drain-timeout → exit.
        // The kubelet SIGKILLs at terminationGracePeriodSeconds (default 30s): it must come later.
        const stopMs = cfg.shutdown.delayMs + cfg.shutdown.drainTimeoutMs;
        const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
        expect(graceMs, `${g.where}: grace ${graceMs}ms vs shutdown ${stopMs}ms`).toBeGreaterThan(stopMs);
        // The gateway's own delay replaces a preStop sleep (see the comment in base/deployment.yaml);
        // a preStop would be added on top of it and eat into the grace period unseen.
        expect(c.lifecycle?.preStop, `${g.where}: no preStop (the gateway delays its own stop)`).toBeUndefined();
        expect(cfg.shutdown.delayMs, g.where).toBeGreaterThanOrEqual(5000);

        // V8's heap must fit in the memory limit.
        const heap = /--max-old-space-size=(\d+)/.exec((c.env ?? []).find((e: any) => e.name === 'NODE_OPTIONS')?.value ?? '');
        expect(heap, `${g.where}: NODE_OPTIONS --max-old-space-size`).not.toBeNull();
        const limitMi = Number(/^(\d+)Mi$/.exec(c.resources.limits.memory)?.[1]);
        expect(Number(heap![1]), g.where).toBeLessThan(limitMi * 0.8);

        // Mounted config read-only; /tmp writable despite the read-only root.
        for (const m of c.volumeMounts ?? []) {
          const v = pod.volumes.find((x: any) => x.name === m.name);
          if (v.configMap) expect(m.readOnly, `${g.where}: ${m.mountPath}`).toBe(true);
        }
        expect((c.volumeMounts ?? []).some((m: any) => m.mountPath === '/tmp')).toBe(true);
      }
    });
  });

  describe('base', () => {
    it('one gateway with the agreed defaults: 5s + 30s stop in 45s, resources measured by the benchmark', () => {
      const [g] = gatewaysOf('k8s/base');
      expect(g!.config.shutdown).toEqual({ delayMs: 5000, drainTimeoutMs: 30000 });
      expect(g!.pod.terminationGracePeriodSeconds).toBe(45);
      expect(g!.container.image).toBe('ghcr.io/example/grpc-web-gateway:0.1.0');
      expect(g!.container.resources).toEqual({ requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
      const svc = objects('k8s/base').find((o) => o.kind === 'Service')!;
      expect(svc.spec.ports.map((p: any) => [p.name, p.port])).toEqual([
        ['http', 8080],
        ['admin', 9901],
      ]);
    });
  });

  describe('example-backend', () => {
    it('3 replicas with a grpc readiness probe behind the HEADLESS Service echo-headless', () => {
      const objs = objects('k8s/example-backend');
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'echo-headless')!;
      expect(svc.spec.clusterIP).toBe('None');
      expect(svc.spec.publishNotReadyAddresses).toBe(false);
      expect(svc.spec.ports.map((p: any) => p.port)).toEqual([50051]);
      const [dep] = workloads(objs).filter((w) => selects(svc.spec.selector, w.spec.template.metadata.labels));
      expect(dep!.spec.replicas).toBe(3);
      const c = dep!.spec.template.spec.containers[0];
      expect(portNumber(c, 'grpc')).toBe(50051);
      expect(c.readinessProbe.grpc.port).toBe(50051);
    });
  });

  describe('overlays/edge', () => {
    const dir = 'k8s/overlays/edge';

    it('the gateway balances over the headless Service in its own namespace', () => {
      const objs = objects(dir);
      const [g] = gatewaysOf(dir);
      const up = g!.config.upstream!;
      expect(up.kind).toBe('dns');
      if (up.kind !== 'dns') return;
      // A short name: the Pod's search list puts the gateway's own namespace first.
      expect(up.name).not.toContain('.');
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === up.name);
      expect(svc, `Service ${up.name}`).toBeDefined();
      expect(svc!.metadata.namespace).toBe(g!.workload.metadata.namespace);
      expect(svc!.spec.clusterIP).toBe('None');
      expect(svc!.spec.publishNotReadyAddresses ?? false).toBe(false);
      expect(svc!.spec.ports.some((p: any) => p.port === up.port)).toBe(true);
      const backends = workloads(objs).filter((w) => selects(svc!.spec.selector, w.spec.template.metadata.labels));
      expect(backends.length).toBe(1);
      expect(backends[0]!.spec.template.spec.containers[0].readinessProbe.grpc).toBeDefined();
      for (const o of objs) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('grpc-web');
    });

    it('2+ replicas through an HPA on CPU 70%, a PDB, spread over nodes and zones', () => {
      const objs = objects(dir);
      const [g] = gatewaysOf(dir);
      const dep = g!.workload;
      // The HPA owns the count: no replicas field to fight it on every apply.
      expect(dep.spec.replicas).toBeUndefined();
      const hpa = objs.find((o) => o.kind === 'HorizontalPodAutoscaler')!;
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.metrics).toContainEqual({
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      });
      const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget')!;
      expect(pdb.spec.minAvailable).toBe(1);
      expect(selects(pdb.spec.selector.matchLabels, dep.spec.template.metadata.labels)).toBe(true);
      const pod = dep.spec.template.spec;
      const keys = (pod.topologySpreadConstraints ?? []).map((t: any) => t.topologyKey);
      expect(keys).toEqual(expect.arrayContaining(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']));
      for (const t of pod.topologySpreadConstraints) expect(selects(t.labelSelector.matchLabels, dep.spec.template.metadata.labels)).toBe(true);
      expect(pod.affinity?.podAntiAffinity).toBeDefined();
    });

    it('behind a cloud L7 LB: ClusterIP Service, an Ingress to it, keep-alive above the LB idle timeout', () => {
      const objs = objects(dir);
      const [g] = gatewaysOf(dir);
      const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'grpc-web-gateway')!;
      expect(svc.spec.type).toBe('ClusterIP');
      const ing = objs.find((o) => o.kind === 'Ingress')!;
      const backend = ing.spec.rules[0].http.paths[0].backend.service;
      expect(backend).toEqual({ name: svc.metadata.name, port: { name: 'http' } });
      // Google's LB keeps idle backend connections 600s, AWS ALB 60s (at most 4000, set < 620).
      expect(g!.config.limits.httpIdleTimeoutMs).toBeGreaterThan(600_000);
      // A cloud LB takes longer than kube-proxy to take a Pod out.
      expect(g!.config.shutdown.delayMs).toBeGreaterThanOrEqual(10_000);
    });
  });

  describe('overlays/sidecar', () => {
    const dir = 'k8s/overlays/sidecar';

    it('one Pod: the backend and a gateway forwarding to it over loopback; the Service exposes only 8080', () => {
      const objs = objects(dir);
      const [g] = gatewaysOf(dir);
      const up = g!.config.upstream!;
      expect(up.kind).toBe('static');
      if (up.kind !== 'static') return;
      expect(up.addresses).toEqual([{ host: '127.0.0.1', port: 50051 }]);
      const others = g!.pod.containers.filter((c: any) => c !== g!.container);
      expect(others.length).toBe(1);
      expect(others[0].ports.map((p: any) => p.containerPort)).toContain(50051);
      expect(others[0].readinessProbe.grpc.port).toBe(50051);
      // The backend waits out the gateway's --shutdown-delay before stopping.
      expect(others[0].lifecycle.preStop.sleep.seconds * 1000).toBeGreaterThan(g!.config.shutdown.delayMs);
      const svcs = objs.filter((o) => o.kind === 'Service');
      expect(svcs.length).toBe(1);
      expect(svcs[0]!.spec.ports.map((p: any) => p.port)).toEqual([8080]);
      expect(objs.some((o) => o.kind === 'Service' && o.spec.clusterIP === 'None')).toBe(false);
    });
  });
});
