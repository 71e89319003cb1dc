// What a run against the API-server stand-in needs: a certificate made by openssl now, in a temp
// dir (nothing secret is committed), the stand-in started with it, and a kubeconfig that points
// the gateway at it with a bearer token. Used by the tests, the demo and the bench.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeApiStandIn, type KubeApiStandInOptions } from './server.js';

export interface StandInSetup {
  api: KubeApiStandIn;
  dir: string;
  /** A kubeconfig with the stand-in's URL, CA and `token`. */
  kubeconfig: string;
  token: string;
  caPem: string;
  /** A kubeconfig like `kubeconfig` with another token (e.g. one the stand-in forbids). */
  kubeconfigWith(token: string): string;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 and localhost (it is its own CA). */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const certPath = join(dir, 'api.crt');
  const keyPath = join(dir, 'api.key');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=kube-api-stand-in',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

export function kubeconfigText(server: string, caPem: string, token: string, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: stand-in',
    'clusters:',
    '- name: stand-in',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'contexts:',
    '- name: stand-in',
    '  context:',
    '    cluster: stand-in',
    '    user: gateway',
    `    namespace: ${namespace}`,
    'users:',
    '- name: gateway',
    '  user:',
    `    token: ${token}`,
    '',
  ].join('\n');
}

export async function startStandIn(options: Partial<KubeApiStandInOptions> = {}): Promise<StandInSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'gwg-kube-api-'));
  const { cert, key } = makeCertificate(dir);
  const token = randomBytes(16).toString('hex');
  const api = new KubeApiStandIn({ cert, key, tokens: [token], ...options });
  await api.start();
  const kubeconfigWith = (t: string): string => {
    const path = join(dir, `kubeconfig-${randomBytes(4).toString('hex')}`);
    writeFileSync(path, kubeconfigText(api.url, cert, t));
    return path;
  };
  return {
    api,
    dir,
    token,
    caPem: cert,
    kubeconfig: kubeconfigWith(token),
    kubeconfigWith,
    async close() {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
