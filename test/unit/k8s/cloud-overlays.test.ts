// The cloud load balancer overlays (k8s/overlays/gke, k8s/overlays/aws-alb), rendered with a real
// kustomize: every object valid for its schema, and the load balancer's settings agreeing with the
// gateway's — health checks on the serving port, the protocol each LB speaks to it, the TLS Secret
// mounted so that rotation reaches the gateway, and idle timeouts that nest (the LB's shorter).
// The generic checks of manifests.test.ts run on aws-alb too (its DIRS).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { REPO, findRenderer, isGatewayContainer, modelClass, parseArgs, portNumber, selects, workloads, type K8sObject } from './render.js';

const renderer = findRenderer();
const rendered = new Map<string, K8sObject[]>();
const DIRS = ['k8s/overlays/gke', 'k8s/overlays/aws-alb'] as const;

/** Google's LB keeps idle backend connections this long (not settable). */
const GOOGLE_BACKEND_KEEPALIVE_S = 600;

beforeAll(() => {
  if (!renderer.ok) throw new Error(`no kustomize v4+ is available (install kubectl 1.21+): ${renderer.why}`);
  for (const dir of DIRS) rendered.set(dir, renderer.render(`${REPO}${dir}`));
});

function find(dir: string, kind: string, name?: string): K8sObject {
  const o = rendered.get(dir)!.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`${dir}: no ${kind} ${name ?? ''}`);
  return o;
}

function gateway(dir: string) {
  const dep = workloads(rendered.get(dir)!).find((w) => w.metadata.name === 'grpc-web-gateway')!;
  const pod = dep.spec.template.spec;
  const container = pod.containers.find(isGatewayContainer);
  const args = new Map(parseArgs(container.args));
  return { dep, pod, container, args };
}

/** The gateway's --keepalive-timeout in this render, as its config loader reads the ConfigMap. */
function keepaliveMs(dir: string): number {
  const file = find(dir, 'ConfigMap').data!['gateway.yaml']!;
  const r = loadConfig(['--upstream', '127.0.0.1:1', '--config', 'gateway.yaml'], {}, () => file);
  if (!('config' in r)) throw new Error('config');
  return r.config.limits.httpIdleTimeoutMs;
}

describe.each(DIRS)('%s', (dir) => {
  it('every Kubernetes object validates against its schema (kubernetes-models; @kubernetes-models/gke for BackendConfig)', async () => {
    const objs = rendered.get(dir)!;
    expect(objs.length).toBeGreaterThan(5);
    for (const o of objs) {
      const Model = await modelClass(o.apiVersion, o.kind);
      expect(() => new Model(o).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it('builds on the edge overlay: same namespace, Service, Ingress to the http port', () => {
    const svc = find(dir, 'Service', 'grpc-web-gateway');
    const ing = find(dir, 'Ingress');
    expect(ing.metadata.namespace).toBe('grpc-web');
    expect(ing.spec.rules[0].http.paths[0].backend.service).toEqual({ name: svc.metadata.name, port: { name: 'http' } });
    const { dep } = gateway(dir);
    expect(selects(svc.spec.selector, dep.spec.template.metadata.labels)).toBe(true);
  });
});

describe('k8s/overlays/gke', () => {
  const dir = 'k8s/overlays/gke';

  it('the Service asks for NEGs, HTTP/2 (over TLS) on the port named http, and names the BackendConfig', () => {
    const svc = find(dir, 'Service', 'grpc-web-gateway');
    const ann = svc.metadata.annotations!;
    expect(JSON.parse(ann['cloud.google.com/neg']!)).toEqual({ ingress: true });
    const protocols = JSON.parse(ann['cloud.google.com/app-protocols']!) as Record<string, string>;
    expect(protocols).toEqual({ http: 'HTTP2' });
    for (const port of Object.keys(protocols)) expect(svc.spec.ports.map((p: any) => p.name)).toContain(port);
    // No appProtocol saying otherwise on that port.
    expect(svc.spec.ports.find((p: any) => p.name === 'http').appProtocol).toBeUndefined();
    const backendConfig = JSON.parse(ann['cloud.google.com/backend-config']!).default;
    expect(find(dir, 'BackendConfig', backendConfig).metadata.namespace).toBe(svc.metadata.namespace);
    const ing = find(dir, 'Ingress');
    expect(ing.metadata.annotations!['kubernetes.io/ingress.class']).toBe('gce');
    expect(Object.keys(ing.metadata.annotations!).filter((k) => k.startsWith('alb.'))).toEqual([]);
  });

  it('the serving port speaks TLS from the mounted Secret, mounted whole (no subPath) so rotation reaches the gateway', () => {
    const { pod, container, args } = gateway(dir);
    const mount = container.volumeMounts.find((m: any) => m.name === 'tls');
    expect(mount.readOnly).toBe(true);
    expect(mount.subPath).toBeUndefined();
    const volume = pod.volumes.find((v: any) => v.name === 'tls');
    expect(volume.secret.secretName).toBe('grpc-web-gateway-tls');
    // kubernetes.io/tls Secrets hold tls.crt and tls.key.
    expect(args.get('--tls-cert')).toBe(`${mount.mountPath}/tls.crt`);
    expect(args.get('--tls-key')).toBe(`${mount.mountPath}/tls.key`);
    // The listener port is the one the Service and the health check name.
    expect(args.get('--listen')).toBe(`0.0.0.0:${portNumber(container, 'http')}`);
  });

  it('readiness probe and the LB health check: GET /readyz on the serving port, over TLS / HTTP/2', () => {
    const { container } = gateway(dir);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http', scheme: 'HTTPS' });
    const bc = find(dir, 'BackendConfig', 'grpc-web-gateway');
    // Container-native LB: the health check's port is the container port.
    expect(bc.spec.healthCheck).toMatchObject({ type: 'HTTP2', port: portNumber(container, 'http'), requestPath: '/readyz' });
    expect(bc.spec.healthCheck.timeoutSec).toBeLessThan(bc.spec.healthCheck.checkIntervalSec);
    // Server streams outlive Google's 30 s default response timeout.
    expect(bc.spec.timeoutSec).toBeGreaterThanOrEqual(3600);
  });

  it("the gateway's idle timeout outlasts Google's backend keep-alive, so the LB closes idle connections first", () => {
    expect(keepaliveMs(dir)).toBeGreaterThan(GOOGLE_BACKEND_KEEPALIVE_S * 1000);
  });
});

describe('k8s/overlays/aws-alb', () => {
  const dir = 'k8s/overlays/aws-alb';
  const ann = () => find(dir, 'Ingress').metadata.annotations!;

  it('an ALB with HTTPS in front, Pod IPs as targets, HTTP/2 to them (not GRPC: browsers send gRPC-Web)', () => {
    const ing = find(dir, 'Ingress');
    expect(ing.spec.ingressClassName).toBe('alb');
    expect(ann()['alb.ingress.kubernetes.io/target-type']).toBe('ip');
    expect(JSON.parse(ann()['alb.ingress.kubernetes.io/listen-ports']!)).toEqual([{ HTTPS: 443 }]);
    expect(ing.spec.tls[0].hosts).toEqual([ing.spec.rules[0].host]);
    expect(ann()['alb.ingress.kubernetes.io/backend-protocol']).toBe('HTTP');
    expect(ann()['alb.ingress.kubernetes.io/backend-protocol-version']).toBe('HTTP2');
  });

  it('the target group checks GET /readyz on the traffic port over HTTP', () => {
    expect(ann()).toMatchObject({
      'alb.ingress.kubernetes.io/healthcheck-protocol': 'HTTP',
      'alb.ingress.kubernetes.io/healthcheck-port': 'traffic-port',
      'alb.ingress.kubernetes.io/healthcheck-path': '/readyz',
      'alb.ingress.kubernetes.io/success-codes': '200',
    });
    const interval = Number(ann()['alb.ingress.kubernetes.io/healthcheck-interval-seconds']);
    expect(Number(ann()['alb.ingress.kubernetes.io/healthcheck-timeout-seconds'])).toBeLessThan(interval);
  });

  it("the ALB's idle timeout is shorter than the gateway's, and its deregistration delay covers the gateway's drain", () => {
    const idle = /idle_timeout\.timeout_seconds=(\d+)/.exec(ann()['alb.ingress.kubernetes.io/load-balancer-attributes']!);
    expect(Number(idle![1]) * 1000).toBeLessThan(keepaliveMs(dir));
    const { args } = gateway(dir);
    const dereg = /deregistration_delay\.timeout_seconds=(\d+)/.exec(ann()['alb.ingress.kubernetes.io/target-group-attributes']!);
    // Calls still arriving during --shutdown-delay are served; the ALB waits for them past it.
    expect(Number(dereg![1])).toBeGreaterThan(Number(/^(\d+)s$/.exec(args.get('--shutdown-delay')!)![1]));
  });

  it('readiness gates: a rollout waits until the ALB sees the new gateway healthy', () => {
    expect(find(dir, 'Namespace').metadata.labels!['elbv2.k8s.aws/pod-readiness-gate-inject']).toBe('enabled');
  });
});
