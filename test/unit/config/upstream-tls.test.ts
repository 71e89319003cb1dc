// --upstream-tls and its files: read and checked at load time, one line naming the setting when wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../../src/config/index.js';
import { makeCa, makeCert } from '../../support/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'gwg-upstream-tls-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = await makeCa(dir);
const client = await makeCert(ca, { cn: 'gateway', client: true });
const other = await makeCert(ca, { cn: 'other', client: true });
const garbage = join(dir, 'garbage.pem');
writeFileSync(garbage, 'not a certificate\n');
const encrypted = join(dir, 'encrypted.key');
writeFileSync(encrypted, '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n');

const UP = ['--upstream', 'dns:///echo-headless.demo.svc:50051'];

function load(argv: string[], env: Record<string, string> = {}): Config {
  const r = loadConfig([...UP, ...argv], env);
  if (!('config' in r)) throw new Error('expected a config');
  return r.config;
}

function error(argv: string[], env: Record<string, string> = {}): string {
  try {
    loadConfig([...UP, ...argv], env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('upstream TLS settings', () => {
  it('plaintext by default', () => {
    expect(load([]).upstreamOptions.tls).toBeNull();
  });

  it('--upstream-tls alone: the default CAs, the target name', () => {
    expect(load(['--upstream-tls']).upstreamOptions.tls).toEqual({ ca: null, cert: null, key: null, serverName: null });
  });

  it('--upstream-ca implies TLS and carries the bundle read at start', async () => {
    const tls = load(['--upstream-ca', ca.cert]).upstreamOptions.tls;
    expect(tls?.ca?.equals(await readFile(ca.cert))).toBe(true);
  });

  it('--upstream-cert with --upstream-key: mTLS (implies TLS), from flags or the environment', async () => {
    const fromFlags = load(['--upstream-cert', client.cert, '--upstream-key', client.key]).upstreamOptions.tls!;
    expect(fromFlags.cert?.equals(await readFile(client.cert))).toBe(true);
    expect(fromFlags.key?.equals(await readFile(client.key))).toBe(true);
    const fromEnv = load([], { GWG_UPSTREAM_CERT: client.cert, GWG_UPSTREAM_KEY: client.key }).upstreamOptions.tls!;
    expect(fromEnv.cert?.equals(fromFlags.cert!)).toBe(true);
  });

  it('--upstream-server-name with TLS; a trailing dot dropped', () => {
    expect(load(['--upstream-tls', '--upstream-server-name', 'api.example.com.']).upstreamOptions.tls?.serverName).toBe(
      'api.example.com',
    );
    expect(load(['--upstream-tls', '--upstream-server-name', '10.0.0.7']).upstreamOptions.tls?.serverName).toBe('10.0.0.7');
  });

  it.each([
    [['--upstream-ca', join(dir, 'missing.pem')], `--upstream-ca: cannot read '${join(dir, 'missing.pem')}' (ENOENT)`],
    [['--upstream-ca', dir], `--upstream-ca: cannot read '${dir}' (EISDIR)`],
    [['--upstream-ca', garbage], `--upstream-ca: '${garbage}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    [['--upstream-ca', client.key], `--upstream-ca: '${client.key}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`],
    [['--upstream-key', client.cert, '--upstream-cert', client.cert], /^--upstream-key: '.*' holds no usable PEM private key/],
    [['--upstream-key', encrypted, '--upstream-cert', client.cert], `--upstream-key: '${encrypted}' is an encrypted key; give an unencrypted one`],
    [['--upstream-cert', client.cert], '--upstream-cert: needs --upstream-key, the key of that certificate'],
    [['--upstream-key', client.key], '--upstream-key: needs --upstream-cert, the certificate of that key'],
    [
      ['--upstream-cert', client.cert, '--upstream-key', other.key],
      `--upstream-key: '${other.key}' is not the key of the certificate in '${client.cert}'`,
    ],
    [['--upstream-server-name', 'echo.demo.svc'], '--upstream-server-name: has no effect without --upstream-tls'],
    [['--upstream-tls', '--upstream-server-name', 'bad name'], "--upstream-server-name: 'bad name' is not a host name or an IP address"],
  ] as const)('%j → %s', (argv, expected) => {
    const msg = error([...argv]);
    if (typeof expected === 'string') expect(msg).toBe(expected);
    else expect(msg).toMatch(expected);
  });

  it('names the environment variable when the value came from there', () => {
    expect(error([], { GWG_UPSTREAM_CA: garbage })).toBe(
      `GWG_UPSTREAM_CA: '${garbage}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  });
});
