// A frozen Pod (SIGSTOP: the process stops, its kernel still holds the connection open, like a
// Pod whose node hangs) looks READY to HTTP/2. Active health checks take it out of rotation and
// bring it back when it answers again.
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { nodeClient } from '../support/clients.js';
import { spawnPod, type PodProcess } from '../support/pod-process.js';
import { freePort } from '../support/ports.js';
import { testGatewayEnv } from '../support/upstream-options.js';

let pods: PodProcess[] = [];
let gw: Gateway | null = null;
afterEach(async () => {
  for (const p of pods) p.child.kill('SIGCONT');
  await gw?.close();
  await Promise.all(pods.map((p) => p.kill()));
  pods = [];
  gw = null;
});

const until = async (what: string, predicate: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A bound on start-ups and on waits for the next phase, not a measure: room for a loaded machine. */
const WAIT_MS = 60_000;

describe('active health checks (interval 300ms, timeout 300ms)', { timeout: 180_000 }, () => {
  it('takes a frozen Pod out of rotation under load and brings it back when it resumes', async () => {
    const port = await freePort();
    pods = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((h) => spawnPod(h, port, WAIT_MS)));
    const result = loadConfig(
      [
        '--listen', '127.0.0.1:0', '--admin', 'off',
        '--upstream', pods.map((p) => p.address).join(','),
        '--health-check-interval', '300ms', '--health-check-timeout', '300ms',
      ],
      testGatewayEnv(),
    );
    if (!('config' in result)) throw new Error('config');
    gw = await startGateway(result.config, { logger: false });
    const pool = gw.pools[0]!;
    await until('all Pods ready', () => pool.snapshot().endpoints.filter((e) => e.state === 'READY').length === 3, WAIT_MS);

    const client = nodeClient('connect', gw.httpUrl);
    const frozen = pods[1]!;
    let phase: 'before' | 'frozen' | 'detected' | 'resuming' | 'resumed' = 'before';
    const served: Record<string, Record<string, number>> = { before: {}, frozen: {}, detected: {}, resuming: {}, resumed: {} };
    const failures: Array<{ phase: string; code: number }> = [];
    let running = true;
    const workers = Array.from({ length: 4 }, async () => {
      for (let i = 0; running && i < 5000; i++) {
        const at = phase;
        // The deadline ends the calls caught on the frozen Pod; long enough that a call to a
        // healthy Pod never reaches it on a loaded machine.
        const r = await client.unary({ message: 'x' }, { timeoutMs: 4000 });
        if (r.ok) served[at]![r.response!.pod] = (served[at]![r.response!.pod] ?? 0) + 1;
        else failures.push({ phase: at, code: r.status.code });
      }
    });
    try {
      await until('traffic on every Pod', () => Object.keys(served.before!).length === 3, WAIT_MS);

      frozen.child.kill('SIGSTOP');
      phase = 'frozen';
      const stoppedAt = Date.now();
      // Nothing but the health checks can notice: the frozen Pod's connection stays open. Two
      // missed checks take ~1.2 s; the bound is room for a loaded machine, not the measure.
      await until('frozen Pod marked unhealthy', () => pool.snapshot().endpoints.find((e) => e.address === frozen.address)!.healthy === false, 15_000);
      const detectedAfter = Date.now() - stoppedAt;
      phase = 'detected';
      // A good number of calls while it is out of rotation (a count, not a pause: the pace of
      // the callers is the machine's).
      const servedWhileDetected = () => Object.values(served.detected!).reduce((a, b) => a + b, 0);
      await until('calls while the Pod is out of rotation', () => servedWhileDetected() > 20, WAIT_MS);

      // Calls from here on may reach the Pod again as soon as it answers a check.
      phase = 'resuming';
      frozen.child.kill('SIGCONT');
      await until('resumed Pod healthy', () => pool.snapshot().endpoints.every((e) => e.healthy), WAIT_MS);
      phase = 'resumed';
      await until('resumed Pod gets traffic', () => (served.resumed![frozen.address] ?? 0) > 0, WAIT_MS);
      console.log(`[frozen Pod] detected after ${detectedAfter} ms; served ${JSON.stringify(served)}; failures ${JSON.stringify(failures)}`);

      // Once detected, nothing goes to the frozen Pod and nothing fails.
      expect(served.detected![frozen.address]).toBeUndefined();
      expect(servedWhileDetected()).toBeGreaterThan(20);
      expect(failures.filter((f) => f.phase === 'detected' || f.phase === 'resuming' || f.phase === 'resumed')).toEqual([]);
      // Only calls sent to it before detection can fail (their deadline passes): at most one per round
      // of the 4 callers, and only DEADLINE_EXCEEDED.
      for (const f of failures) expect(f.code).toBe(4);
    } finally {
      running = false;
      await Promise.all(workers);
    }
  });
});
