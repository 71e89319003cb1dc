// Helpers for the k8s manifest tests: render a kustomization with a real kustomize (kubectl's
// built-in one, or a standalone `kustomize`), validate objects with kubernetes-models, and read a
// gateway container's configuration the way the gateway itself will.
import { execFileSync, spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export const REPO = new URL('../../../', import.meta.url).pathname;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export type Renderer = { ok: true; describe: string; render: (dir: string) => K8sObject[] } | { ok: false; why: string };

/** kustomize ≥ v4 is needed: the manifests use `labels`, `patches` and directories in `resources`. */
const MIN_KUSTOMIZE_MAJOR = 4;

function majorOf(version: string): number {
  const m = /v?(\d+)\./.exec(version);
  return m ? Number(m[1]) : 0;
}

export function findRenderer(): Renderer {
  const why: string[] = [];
  // 1. kubectl kustomize (kubectl ≥ 1.21 embeds kustomize v4+; the image has kubectl 1.32 / kustomize v5).
  const kv = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (kv.error) why.push(`kubectl: ${kv.error.message}`);
  else {
    try {
      const info = JSON.parse(kv.stdout) as { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string };
      const kz = info.kustomizeVersion ?? 'v2 (not reported)';
      if (majorOf(kz) >= MIN_KUSTOMIZE_MAJOR) {
        return {
          ok: true,
          describe: `kubectl ${info.clientVersion?.gitVersion} (kustomize ${kz})`,
          render: (dir) => parseObjects(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })),
        };
      }
      why.push(`kubectl ${info.clientVersion?.gitVersion} embeds kustomize ${kz}, need v${MIN_KUSTOMIZE_MAJOR}+`);
    } catch {
      why.push(`kubectl version printed no JSON: ${kv.stdout.slice(0, 200)}`);
    }
  }
  // 2. a standalone kustomize.
  const kz = spawnSync('kustomize', ['version'], { encoding: 'utf8' });
  if (kz.error) why.push(`kustomize: ${kz.error.message}`);
  else if (majorOf(kz.stdout) >= MIN_KUSTOMIZE_MAJOR) {
    return {
      ok: true,
      describe: `kustomize ${kz.stdout.trim()}`,
      render: (dir) => parseObjects(execFileSync('kustomize', ['build', dir], { encoding: 'utf8' })),
    };
  } else why.push(`kustomize ${kz.stdout.trim()} is older than v${MIN_KUSTOMIZE_MAJOR}`);
  return { ok: false, why: why.join('; ') };
}

export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) out.push(value);
  }
  return out;
}

/** apiVersion → kubernetes-models module: "v1" → kubernetes-models/v1, "apps/v1" → kubernetes-models/apps/v1. */
export async function modelClass(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  // GKE's own resources (BackendConfig) come from the GKE models package, the rest from kubernetes-models.
  const pkg = apiVersion.endsWith('cloud.google.com/v1') ? '@kubernetes-models/gke' : 'kubernetes-models';
  const mod = (await import(/* @vite-ignore */ `${pkg}/${apiVersion}`)) as Record<string, unknown>;
  const cls = mod[kind];
  if (typeof cls !== 'function') throw new Error(`${pkg} has no ${kind} in ${apiVersion}`);
  return cls as new (data: unknown) => { validate(): void };
}

/** Go-style durations as the gateway writes them: "5s", "1m30s", "250ms". */
export function durationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let end = 0;
  let m: RegExpExecArray | null;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  while ((m = re.exec(text))) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (end !== text.length || end === 0) throw new Error(`not a duration: ${text}`);
  return total;
}

/** "--name=value" / "--name value" / "--flag" → [name, value|undefined] pairs, in order. */
export function parseArgs(args: readonly string[]): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) throw new Error(`argument '${a}' is not a --flag`);
    const eq = a.indexOf('=');
    if (eq >= 0) out.push([a.slice(0, eq), a.slice(eq + 1)]);
    else if (i + 1 < args.length && !args[i + 1]!.startsWith('--')) out.push([a, args[++i]]);
    else out.push([a, undefined]);
  }
  return out;
}

export function workloads(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind));
}

export function isGatewayContainer(c: { name: string; image?: string }): boolean {
  return c.name === 'gateway' || /grpc-web-gateway/.test(c.image ?? '');
}

/** The number a named or numbered container port stands for. */
export function portNumber(container: any, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = (container.ports ?? []).find((x: any) => x.name === port);
  if (!p) throw new Error(`container ${container.name} has no port named ${port}`);
  return p.containerPort;
}

/** Does a label selector (matchLabels only, as used here) select these labels? */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
