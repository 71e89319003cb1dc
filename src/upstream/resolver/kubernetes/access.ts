// How the gateway reaches the Kubernetes API server: from a kubeconfig file (--kubeconfig /
// KUBECONFIG, for running outside a cluster) or the Pod's service account (in a cluster). Only
// what a watch of EndpointSlices needs: the server URL, its CA, and a bearer token or a client
// certificate. Read once at start, except the token, which is read again for every request:
// projected service account tokens are rotated by the kubelet while the Pod runs.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface KubeAccess {
  /** "https://10.96.0.1:443" (http:// too, e.g. `kubectl proxy`), no trailing slash. */
  server: string;
  /** PEM; absent: the system's trusted CAs. */
  ca?: Buffer;
  insecureSkipTlsVerify?: boolean;
  /** TLS server name to verify when it differs from the server's host (kubeconfig tls-server-name). */
  tlsServerName?: string;
  /** The bearer token for the next request; undefined: none. */
  token?: () => string | undefined;
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** Where this came from, for messages: "in-cluster service account" or "kubeconfig FILE (context C)". */
  source: string;
}

/** The service account files the kubelet mounts into every Pod. */
export interface InClusterFiles {
  token: string;
  ca: string;
}

export const IN_CLUSTER_FILES: InClusterFiles = {
  token: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  ca: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
};

type ReadFile = (path: string) => Buffer;
const readBytes: ReadFile = (path) => readFileSync(path);

function readOrExplain(read: ReadFile, path: string, what: string): Buffer {
  try {
    return read(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read ${what} '${path}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

/**
 * The in-cluster configuration, as client-go's rest.InClusterConfig builds it: the API server
 * from KUBERNETES_SERVICE_HOST/PORT, the service account's token and CA. `files` is for tests
 * (a fake service account directory); the gateway always uses IN_CLUSTER_FILES.
 */
export function inClusterAccess(env: NodeJS.ProcessEnv, files: InClusterFiles = IN_CLUSTER_FILES, read = readBytes): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      'k8s:/// targets need the Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); give --kubeconfig FILE',
    );
  }
  const ca = readOrExplain(read, files.ca, 'the service account CA');
  readOrExplain(read, files.token, 'the service account token'); // fail at start, not at the first list
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca,
    token: () => tokenFrom(read, files.token),
    source: 'in-cluster service account',
  };
}

function tokenFrom(read: ReadFile, path: string): string | undefined {
  try {
    return read(path).toString('utf8').trim() || undefined;
  } catch {
    // Mid-rotation or gone: the request goes without, and the 401 says why.
    return undefined;
  }
}

/** kubeconfig lists are [{name, cluster|user|context: {...}}]: the body of the one named `name`. */
function entry(list: unknown, name: string, kind: string, file: string): Record<string, unknown> {
  const found = Array.isArray(list) ? (list as Array<Record<string, unknown> | null>).find((e) => e?.name === name) : undefined;
  const body = found?.[kind];
  if (body === null || typeof body !== 'object') throw new Error(`kubeconfig ${file}: no ${kind} named '${name}'`);
  return body as Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * A kubeconfig's current context: its cluster's server and CA, its user's token or client
 * certificate. Exec plugins and auth providers are not run (the gateway runs no programs on
 * behalf of a config file); use a token (e.g. a service account's) or a client certificate.
 */
export function kubeconfigAccess(file: string, read = readBytes): KubeAccess {
  let doc: unknown;
  try {
    doc = parseYaml(readOrExplain(read, file, 'kubeconfig').toString('utf8'));
  } catch (err) {
    throw new Error((err as Error).message.startsWith('cannot read') ? (err as Error).message : `kubeconfig ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object') throw new Error(`kubeconfig ${file}: not a kubeconfig (expected a mapping)`);
  const kc = doc as Record<string, unknown>;
  const contextName = str(kc['current-context']);
  if (contextName === undefined) throw new Error(`kubeconfig ${file}: no current-context`);
  const context = entry(kc.contexts, contextName, 'context', file);
  const cluster = entry(kc.clusters, String(context.cluster), 'cluster', file);
  const user = context.user === undefined ? {} : entry(kc.users, String(context.user), 'user', file);
  const relative = (p: string): string => (isAbsolute(p) ? p : join(dirname(file), p));
  const bytes = (data: unknown, path: unknown, what: string): Buffer | undefined => {
    if (str(data)) return Buffer.from(str(data)!, 'base64');
    if (str(path)) return readOrExplain(read, relative(str(path)!), `${what} of kubeconfig ${file}`);
    return undefined;
  };

  const server = str(cluster.server);
  if (server === undefined || !/^https?:\/\/[^/]+/i.test(server)) {
    throw new Error(`kubeconfig ${file}: cluster '${String(context.cluster)}' has no http(s) server URL`);
  }
  for (const unsupported of ['exec', 'auth-provider', 'username']) {
    if (user[unsupported] !== undefined) {
      throw new Error(
        `kubeconfig ${file}: user '${String(context.user)}' authenticates with ${unsupported}, which the gateway does not run; give it a token or a client certificate`,
      );
    }
  }
  const token = str(user.token);
  const tokenFile = str(user.tokenFile);
  const access: KubeAccess = {
    server: server.replace(/\/+$/, ''),
    source: `kubeconfig ${file} (context ${contextName})`,
  };
  const ca = bytes(cluster['certificate-authority-data'], cluster['certificate-authority'], 'certificate-authority');
  if (ca) access.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) access.insecureSkipTlsVerify = true;
  if (str(cluster['tls-server-name'])) access.tlsServerName = str(cluster['tls-server-name'])!;
  if (token !== undefined) access.token = () => token;
  else if (tokenFile !== undefined) access.token = () => tokenFrom(read, relative(tokenFile));
  const cert = bytes(user['client-certificate-data'], user['client-certificate'], 'client-certificate');
  const key = bytes(user['client-key-data'], user['client-key'], 'client-key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(`kubeconfig ${file}: user '${String(context.user)}' has a client certificate without its key, or a key without its certificate`);
  }
  if (cert && key) [access.clientCert, access.clientKey] = [cert, key];
  return access;
}
