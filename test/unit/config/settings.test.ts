import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { helpText, loadConfig, settingsTable } from '../../../src/config/index.js';
import { makeCa, makeCert } from '../../support/tls.js';

// File settings are read at load time: give them real PEM files, made for this run.
const pemDir = mkdtempSync(join(tmpdir(), 'gwg-settings-'));
afterAll(() => rmSync(pemDir, { recursive: true, force: true }));
const testCa = await makeCa(pemDir);
const clientCert = await makeCert(testCa, { cn: 'gateway', client: true });

describe('settings table', () => {
  const rows = settingsTable();

  it('derives env and YAML names from the flag', () => {
    for (const row of rows) {
      expect(row.flag).toMatch(/^--[a-z][a-z0-9-]*$/);
      const name = row.flag.slice(2);
      if (row.env !== '') expect(row.env).toBe(`GWG_${name.toUpperCase().replace(/-/g, '_')}`);
      if (row.yaml !== '') expect(row.yaml).toBe(name);
      expect(row.help.length).toBeGreaterThan(0);
    }
    expect(new Set(rows.map((r) => r.flag)).size).toBe(rows.length);
  });

  it('lists the settings of the brief', () => {
    const flags = rows.map((r) => r.flag);
    for (const f of [
      '--listen', '--admin', '--upstream', '--route', '--allow-origin', '--allow-credentials', '--cors-max-age',
      '--cors-allow-header', '--cors-expose-header', '--max-message-size', '--max-request-size', '--max-header-size',
      '--max-headers', '--headers-timeout', '--request-timeout', '--keepalive-timeout', '--max-call-duration',
      '--max-concurrent-calls', '--max-buffered-request-bytes', '--max-connections',
      '--balancer', '--connect-timeout', '--upstream-keepalive', '--upstream-keepalive-timeout', '--max-retries',
      '--streams-per-connection', '--max-connections-per-pod', '--pod-drain-timeout', '--health-check-interval',
      '--health-check-timeout', '--dns-server',
      '--resolve-interval', '--dns-timeout', '--dns-family', '--resolv-conf', '--shutdown-delay', '--drain-timeout', '--log-level',
      '--access-log', '--trust-proxy', '--workers', '--config', '--help', '--version',
      '--retry-on', '--retry-methods', '--retry-attempts', '--retry-backoff', '--retry-max-backoff', '--retry-budget',
      '--kubeconfig', '--prefer-zone',
    ]) {
      expect(flags).toContain(f);
    }
    expect(rows.filter((r) => r.repeatable).map((r) => r.flag).sort()).toEqual(
      ['--allow-origin', '--cors-allow-header', '--cors-expose-header', '--dns-server', '--retry-methods', '--route'].sort(),
    );
  });

  it('--help lists every flag with its env var and default', () => {
    const help = helpText();
    const flat = help.replace(/\s+/g, ' ');
    for (const row of rows) {
      expect(help).toContain(row.flag);
      if (row.env !== '') expect(help).toContain(row.env);
      if (row.default !== '') expect(flat).toContain(`default: ${row.default}`);
    }
    expect(help).toContain('--no-access-log');
    expect(loadConfig(['--help'], {})).toEqual({ help });
  });

  it('every flag, env var and YAML key is accepted by the loader', () => {
    for (const row of rows) {
      if (row.flag === '--help' || row.flag === '--version' || row.flag === '--config') continue;
      const value = sample[row.flag];
      expect(value, `sample value for ${row.flag}`).toBeDefined();
      const base = [...(row.flag === '--upstream' ? [] : ['--upstream', '1.1.1.1:1']), ...(companions[row.flag] ?? [])];
      expect(() => loadConfig([...base, row.flag, value!], {})).not.toThrow();
      expect(() => loadConfig(base, { [row.env]: value! })).not.toThrow();
      const yaml = `${row.yaml}: ${JSON.stringify(value)}\n`;
      expect(() => loadConfig([...base, '--config', 'c.yaml'], {}, () => yaml)).not.toThrow();
    }
  });
});

/** A file every run can read (the file settings check that theirs can be read). */
const A_FILE = fileURLToPath(import.meta.url);

const sample: Record<string, string> = {
  '--listen': '127.0.0.1:0',
  '--admin': 'off',
  '--upstream': 'dns:///echo:50051',
  '--route': '/x/=1.1.1.1:1',
  '--allow-origin': 'https://a.example',
  '--allow-credentials': 'false',
  '--cors-max-age': '1m',
  '--cors-allow-header': 'x-a',
  '--cors-expose-header': 'x-b',
  '--max-message-size': '1MiB',
  '--max-request-size': '2MiB',
  '--max-header-size': '8KiB',
  '--max-headers': '10',
  '--headers-timeout': '5s',
  '--request-timeout': '10s',
  '--keepalive-timeout': '75s',
  '--max-call-duration': '1h',
  '--max-concurrent-calls': '500',
  '--max-buffered-request-bytes': '32MiB',
  '--max-connections': '0',
  '--max-concurrent-streams': '50',
  '--tls-cert': A_FILE,
  '--tls-key': A_FILE,
  '--tls-client-ca': A_FILE,
  '--balancer': 'least-request',
  '--upstream-client': 'grpc-js',
  '--connect-timeout': '1s',
  '--upstream-keepalive': '20s',
  '--upstream-keepalive-timeout': '5s',
  '--max-retries': '1',
  '--streams-per-connection': '50',
  '--max-connections-per-pod': '2',
  '--pod-drain-timeout': '10s',
  '--health-check-interval': '5s',
  '--health-check-timeout': '1s',
  '--dns-server': '10.0.0.10',
  '--resolve-interval': '1s',
  '--dns-timeout': '1s',
  '--dns-family': 'ipv6',
  '--resolv-conf': '/tmp/resolv.conf',
  '--shutdown-delay': '1s',
  '--drain-timeout': '10s',
  '--log-level': 'warn',
  '--access-log': 'false',
  '--trust-proxy': '2',
  '--workers': '3',
  '--retry-on': 'unavailable,resource-exhausted',
  '--retry-methods': '/shop.Catalog/',
  '--retry-attempts': '4',
  '--retry-backoff': '10ms',
  '--retry-max-backoff': '1s',
  '--retry-budget': '30%',
  '--kubeconfig': '/home/me/.kube/config',
  '--prefer-zone': 'europe-west1-b',
  '--upstream-tls': 'true',
  '--upstream-ca': testCa.cert,
  '--upstream-cert': clientCert.cert,
  '--upstream-key': clientCert.key,
  '--upstream-server-name': 'echo-headless.demo.svc',
  '--retry-buffer-size': '64KiB',
};

/** Settings that are only valid with another one beside them. */
const companions: Record<string, string[]> = {
  '--retry-on': ['--retry-methods', '/a.B/'],
  '--retry-methods': ['--retry-on', 'unavailable'],
  '--prefer-zone': ['--route', '/k/=k8s:///echo.default:grpc'],
  '--upstream-cert': ['--upstream-key', clientCert.key],
  '--upstream-key': ['--upstream-cert', clientCert.cert],
  '--upstream-server-name': ['--upstream-tls'],
  '--tls-cert': ['--tls-key', A_FILE],
  '--tls-key': ['--tls-cert', A_FILE],
  '--tls-client-ca': ['--tls-cert', A_FILE, '--tls-key', A_FILE],
};
