// The CLI as users run it: exit codes and messages for bad input, --help/--version, and the
// structured access log (fields, X-Forwarded-For only when trusted, no header values).
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoPod, type EchoPod } from '../../examples/echo-pod/server.js';
import { nodeClient } from '../support/clients.js';
import { spawnGateway, waitForStatus, type GatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';

/** A bound on a start-up (readiness), not a measure: room for a machine shared by many test runs. */
const START_MS = 60_000;

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const g = spawnGateway(args, env);
  const { code } = await g.exited;
  return { code, output: g.output() };
}

describe('command line', { timeout: 120_000 }, () => {
  it.each([
    [['--listen', 'nowhere'], '--listen'],
    [['--upstream', '127.0.0.1:1', '--resolve-interval', '5x'], '--resolve-interval'],
    [['--upstream', '127.0.0.1:1', '--bogus'], '--bogus'],
    [[], 'no upstream'],
    [['--upstream', 'dns://authority/name:1'], '--upstream'],
  ])('rejects %j with exit code 2 and one line naming %s, no stack trace', async (args, named) => {
    const { code, output } = await run(args);
    expect(code).toBe(2);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(named);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('names the environment variable or the config file when they are wrong', async () => {
    const env = await run(['--upstream', '127.0.0.1:1'], { GWG_BALANCER: 'random' });
    expect(env.code).toBe(2);
    expect(env.output).toContain('GWG_BALANCER');
    const dir = mkdtempSync(join(tmpdir(), 'gwg-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'upstream: 127.0.0.1:1\nresolve-intervall: 5s\n');
    const yaml = await run(['--config', file]);
    expect(yaml.code).toBe(2);
    expect(yaml.output).toContain('resolve-intervall');
    const missing = await run(['--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
  });

  it('prints help and version and exits 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--listen', '--upstream', '--route', '--dns-server', '--resolve-interval', '--balancer']) {
      expect(help.output).toContain(flag);
    }
    const version = await run(['--version']);
    expect(version.code).toBe(0);
    expect(version.output.trim()).toMatch(/^grpc-web-gateway \d+\.\d+\.\d+/);
  });

  it('fails with exit code 1 and one line when the port is taken', async () => {
    const port = await freePort();
    const first = spawnGateway(['--listen', `127.0.0.1:${port}`, '--admin', 'off', '--upstream', '127.0.0.1:1']);
    try {
      await waitForStatus(`http://127.0.0.1:${port}/x`, 405, START_MS);
      const { code, output } = await run(['--listen', `127.0.0.1:${port}`, '--admin', 'off', '--upstream', '127.0.0.1:1']);
      expect(code).toBe(1);
      expect(output).toContain('EADDRINUSE');
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      first.kill('SIGKILL');
    }
  });
});

describe('access log', { timeout: 120_000 }, () => {
  let pod: EchoPod | null = null;
  let gateway: GatewayProcess | null = null;
  afterEach(async () => {
    gateway?.kill('SIGKILL');
    await pod?.close();
  });

  async function callThrough(extra: string[]) {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const [http, admin] = [await freePort(), await freePort()];
    gateway = spawnGateway([
      '--listen', `127.0.0.1:${http}`, '--admin', `127.0.0.1:${admin}`, '--upstream', pod.address, ...extra,
    ]);
    await waitForStatus(`http://127.0.0.1:${admin}/readyz`, 200, START_MS);
    const r = await nodeClient('connect', `http://127.0.0.1:${http}`).unary(
      { message: 'hi' },
      { metadata: { authorization: 'Bearer s3cr3t-token', 'x-request-id': 'req-abc', 'x-forwarded-for': '203.0.113.7' } },
    );
    expect(r.ok).toBe(true);
    const deadline = Date.now() + START_MS;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = gateway.output().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'call');
      if (!line) await new Promise((res) => setTimeout(res, 20));
    }
    return { line: line!, output: gateway.output() };
  }

  it('writes one JSON line per call with status, duration, Pod, bytes and request id; never header values', async () => {
    const { line, output } = await callThrough([]);
    expect(line).toMatchObject({
      method: '/echo.v1.EchoService/Echo',
      grpcStatus: 0,
      endpoint: pod!.address,
      reqId: 'req-abc',
      client: '127.0.0.1', // X-Forwarded-For is not trusted by default
    });
    expect(line.durationMs).toEqual(expect.any(Number));
    expect(line.bytesIn).toBeGreaterThan(5);
    expect(line.bytesOut).toBeGreaterThan(5);
    expect(output).not.toContain('s3cr3t-token');
  });

  it('takes the client address from X-Forwarded-For only when --trust-proxy trusts the peer', async () => {
    const { line } = await callThrough(['--trust-proxy', '127.0.0.1/32']);
    expect(line.client).toBe('203.0.113.7');
  });

  it('is off with --no-access-log', async () => {
    pod = await startEchoPod({ host: '127.0.0.2', port: 0 });
    const [http, admin] = [await freePort(), await freePort()];
    gateway = spawnGateway(['--listen', `127.0.0.1:${http}`, '--admin', `127.0.0.1:${admin}`, '--upstream', pod.address, '--no-access-log', '--shutdown-delay', '0s']);
    await waitForStatus(`http://127.0.0.1:${admin}/readyz`, 200, START_MS);
    expect((await nodeClient('connect', `http://127.0.0.1:${http}`).unary({ message: 'hi' })).ok).toBe(true);
    // Everything it will ever write is in once it has stopped and its pipes are drained.
    gateway.kill('SIGTERM');
    expect((await gateway.exited).code).toBe(0);
    expect(gateway.output()).toContain('gateway stopped');
    expect(gateway.output()).not.toContain('"msg":"call"');
  });
});
