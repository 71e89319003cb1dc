// The headless DNS server (examples/headless-dns/server.ts) as a real child process, driven over
// Node IPC. Every command is acknowledged by the child before the promise resolves, so a test
// that awaits set() knows the next query sees the new records.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { DnsMode } from '../../examples/headless-dns/server.js';

export interface DnsProcessOptions {
  host?: string;
  /** 0 (default): the child picks a free port. */
  port?: number;
  /** How long to wait for {"ready":true}. Default 15 s (tsx compiles on start). */
  startTimeoutMs?: number;
}

export type { DnsMode as DnsProcessMode } from '../../examples/headless-dns/server.js';

export interface DnsProcess {
  address: { host: string; port: number };
  pid: number;
  set(name: string, addresses: string[], ttl?: number): Promise<void>;
  remove(name: string): Promise<void>;
  cname(name: string, target: string | null, ttl?: number): Promise<void>;
  /** For every query, or (with `type`) for that record type only. */
  mode(mode: DnsMode, type?: 'A' | 'AAAA'): Promise<void>;
  udpLimit(bytes: number | null): Promise<void>;
  stats(): Promise<{ queries: number; queriesA: number; queriesAAAA: number; tcpConnections: number }>;
  /** SIGKILL: a DNS outage (UDP then gets ICMP port unreachable). Resolves once the child is gone. */
  kill(): Promise<void>;
  /** Graceful: close the server and wait for the child to exit. */
  stop(): Promise<void>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(repoRoot, 'examples/headless-dns/server.ts');
const COMMAND_TIMEOUT_MS = 5000;

interface Ack {
  ack: number;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

export async function spawnHeadlessDns(opts: DnsProcessOptions = {}): Promise<DnsProcess> {
  const host = opts.host ?? '127.0.0.1';
  const child: ChildProcess = fork(script, ['--host', host, '--port', String(opts.port ?? 0)], {
    cwd: repoRoot,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.resume(); // the ready line and stdin acks are for humans; IPC is ours

  const killOnExit = (): void => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  };
  process.on('exit', killOnExit);

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => {
    process.off('exit', killOnExit);
    for (const [, p] of pending) p.reject(new Error('headless DNS process exited'));
    pending.clear();
  });

  const pending = new Map<number, { resolve(a: Ack): void; reject(e: Error): void }>();
  let nextId = 1;
  let readyResolve: (port: number) => void = () => {};
  const ready = new Promise<number>((resolve) => (readyResolve = resolve));
  child.on('message', (m: unknown) => {
    const msg = m as Partial<Ack> & { ready?: boolean; port?: number };
    if (msg.ready && typeof msg.port === 'number') {
      readyResolve(msg.port);
      return;
    }
    if (typeof msg.ack === 'number') {
      const p = pending.get(msg.ack);
      if (!p) return;
      pending.delete(msg.ack);
      if (msg.ok) p.resolve(msg as Ack);
      else p.reject(new Error(`headless DNS: ${msg.error ?? 'command failed'}`));
    }
  });

  const startTimeout = opts.startTimeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  let port: number;
  try {
    port = await Promise.race([
      ready,
      exited.then(() => {
        throw new Error(`headless DNS process exited before it was ready (code ${child.exitCode})`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`headless DNS process not ready within ${startTimeout} ms`)), startTimeout);
      }),
    ]);
  } catch (err) {
    killOnExit();
    throw err;
  } finally {
    clearTimeout(timer);
  }

  const command = (body: Record<string, unknown>): Promise<Ack> => {
    if (!child.connected) return Promise.reject(new Error('headless DNS process is not running'));
    const id = nextId++;
    return new Promise<Ack>((resolve, reject) => {
      const t = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`headless DNS: no ack for ${JSON.stringify(body)} within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      pending.set(id, {
        resolve: (a) => {
          clearTimeout(t);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      child.send({ id, ...body });
    });
  };

  return {
    address: { host, port },
    pid: child.pid!,
    set: async (name, addresses, ttl) => void (await command({ cmd: 'set', name, addresses, ...(ttl !== undefined ? { ttl } : {}) })),
    remove: async (name) => void (await command({ cmd: 'remove', name })),
    cname: async (name, target, ttl) => void (await command({ cmd: 'cname', name, target, ...(ttl !== undefined ? { ttl } : {}) })),
    mode: async (mode, type) => void (await command({ cmd: 'mode', mode, ...(type !== undefined ? { type } : {}) })),
    udpLimit: async (bytes) => void (await command({ cmd: 'udpLimit', bytes })),
    stats: async () => {
      const a = await command({ cmd: 'stats' });
      return { queries: Number(a.queries), queriesA: Number(a.queriesA), queriesAAAA: Number(a.queriesAAAA), tcpConnections: Number(a.tcpConnections) };
    },
    kill: async () => {
      killOnExit();
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.send({ id: 0, cmd: 'close' });
        else child.kill('SIGTERM');
        const t = setTimeout(killOnExit, 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
