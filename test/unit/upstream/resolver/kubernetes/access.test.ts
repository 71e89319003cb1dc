import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inClusterAccess, kubeconfigAccess } from '../../../../../src/upstream/resolver/kubernetes/index.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gwg-kube-access-'));
  dirs.push(d);
  return d;
}

const kubeconfig = (cluster: string, user: string) => `apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
clusters:
- name: dev-cluster
  cluster:
${cluster}
users:
- name: dev-user
  user:
${user}
`;

describe('kubeconfigAccess', () => {
  it("reads the current context's server, CA data and token", () => {
    const d = dir();
    const file = join(d, 'config');
    writeFileSync(
      file,
      kubeconfig(
        `    server: https://10.0.0.1:6443/\n    certificate-authority-data: ${Buffer.from('CA PEM').toString('base64')}`,
        '    token: abc',
      ),
    );
    const a = kubeconfigAccess(file);
    expect(a.server).toBe('https://10.0.0.1:6443');
    expect(a.ca?.toString()).toBe('CA PEM');
    expect(a.token?.()).toBe('abc');
    expect(a.source).toBe(`kubeconfig ${file} (context dev)`);
  });

  it('reads files relative to the kubeconfig: CA, client certificate and key, a token file read per request', () => {
    const d = dir();
    writeFileSync(join(d, 'ca.crt'), 'CA');
    writeFileSync(join(d, 'me.crt'), 'CERT');
    writeFileSync(join(d, 'me.key'), 'KEY');
    writeFileSync(join(d, 'token'), 'one\n');
    const file = join(d, 'config');
    writeFileSync(
      file,
      kubeconfig(
        '    server: https://api.example:443\n    certificate-authority: ca.crt\n    tls-server-name: kubernetes',
        '    client-certificate: me.crt\n    client-key: me.key\n    tokenFile: token',
      ),
    );
    const a = kubeconfigAccess(file);
    expect([a.ca?.toString(), a.clientCert?.toString(), a.clientKey?.toString(), a.tlsServerName]).toEqual(['CA', 'CERT', 'KEY', 'kubernetes']);
    expect(a.token?.()).toBe('one');
    writeFileSync(join(d, 'token'), 'two\n'); // rotated
    expect(a.token?.()).toBe('two');
  });

  it.each([
    ['exec plugin', kubeconfig('    server: https://a:1', '    exec: {command: aws}'), /authenticates with exec, which the gateway does not run/],
    ['no server', kubeconfig('    insecure-skip-tls-verify: true', '    token: x'), /has no http\(s\) server URL/],
    ['a key without its certificate', kubeconfig('    server: https://a:1', '    client-key-data: eA=='), /without its key, or a key without/],
    ['no current context', 'apiVersion: v1\nkind: Config\n', /no current-context/],
    ['a missing file', null, /cannot read kubeconfig '.*': no such file/],
  ])('refuses %s clearly', (_what, text, message) => {
    const d = dir();
    const file = join(d, 'config');
    if (text !== null) writeFileSync(file, text);
    expect(() => kubeconfigAccess(file)).toThrow(message);
  });
});

describe('inClusterAccess', () => {
  it('uses KUBERNETES_SERVICE_HOST/PORT and the service account files (paths given explicitly)', () => {
    const d = dir();
    writeFileSync(join(d, 'token'), 'sa-token\n');
    writeFileSync(join(d, 'ca.crt'), 'CLUSTER CA');
    const files = { token: join(d, 'token'), ca: join(d, 'ca.crt') };
    const a = inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, files);
    expect(a.server).toBe('https://10.96.0.1:443');
    expect(a.ca?.toString()).toBe('CLUSTER CA');
    expect(a.token?.()).toBe('sa-token');
    writeFileSync(join(d, 'token'), 'rotated');
    expect(a.token?.()).toBe('rotated');
    expect(inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, files).server).toBe('https://[fd00::1]:443');
  });

  it('outside a cluster, or without the service account files, says what to do', () => {
    const d = dir();
    expect(() => inClusterAccess({})).toThrow(/not in a cluster .*give --kubeconfig FILE/);
    expect(() =>
      inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, { token: join(d, 't'), ca: join(d, 'c') }),
    ).toThrow(/cannot read the service account CA '.*': no such file/);
  });
});
