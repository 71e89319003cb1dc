// Every process the demo starts: echo Pods, the headless DNS server and the gateway. Each one is
// registered here with its PID and stopped by that PID (SIGTERM, then SIGKILL after a grace
// period) when the demo ends or is interrupted. Children run in their own process group
// (detached) so that a Ctrl-C in the terminal reaches only the demo, which then stops them in
// order: client first, then gateway, then Pods and DNS. Pods and DNS are forked with an IPC
// channel and exit by themselves if the demo dies without cleaning up (their 'disconnect').
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const POD_SCRIPT = path.join(ROOT, 'examples/echo-pod/server.ts');
const DNS_SCRIPT = path.join(ROOT, 'examples/headless-dns/server.ts');

export interface Child {
  kind: 'pod' | 'dns' | 'gateway';
  name: string;
  pid: number;
  process: ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<void>;
  alive(): boolean;
}

export class Children {
  private readonly live = new Set<Child>();
  /** Every PID ever started, in order. */
  readonly started: Array<{ kind: Child['kind']; name: string; pid: number }> = [];
  private closed = false;

  constructor() {
    // Last resort (an exception, process.exit elsewhere): never leave a child behind.
    process.once('exit', () => this.killAll());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private register(kind: Child['kind'], name: string, cp: ChildProcess): Child {
    if (cp.pid === undefined) throw new Error(`could not start ${name}`);
    const exited = new Promise<void>((resolve) => {
      if (cp.exitCode !== null || cp.signalCode !== null) resolve();
      else cp.once('exit', () => resolve());
    });
    const child: Child = {
      kind,
      name,
      pid: cp.pid,
      process: cp,
      exited,
      alive: () => cp.exitCode === null && cp.signalCode === null,
    };
    this.live.add(child);
    this.started.push({ kind, name, pid: cp.pid });
    void exited.then(() => this.live.delete(child));
    // Started while the demo was already stopping (a Ctrl-C during a scale step): stop it at once.
    if (this.closed) void this.stop(child);
    return child;
  }

  /** SIGTERM by PID, SIGKILL after graceMs; resolves when it has exited. */
  async stop(child: Child, graceMs = 10_000): Promise<void> {
    if (!child.alive()) return;
    signal(child.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(child.pid, 'SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }

  /** No more children from now on; stops the gateway first, then everything else. */
  async stopAll(graceMs = 10_000): Promise<void> {
    this.closed = true;
    const all = [...this.live];
    await Promise.all(all.filter((c) => c.kind === 'gateway').map((c) => this.stop(c, graceMs)));
    await Promise.all([...this.live].map((c) => this.stop(c, graceMs)));
  }

  killAll(): void {
    this.closed = true;
    for (const c of this.live) if (c.alive()) signal(c.pid, 'SIGKILL');
  }

  // ---- the three kinds ------------------------------------------------------------------------

  /** examples/echo-pod/server.ts on host:port (0 = pick); resolves once it listens. */
  async startPod(host: string, port: number): Promise<Child & { address: string }> {
    const cp = fork(POD_SCRIPT, ['--host', host, '--port', String(port)], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    const child = this.register('pod', `pod ${host}`, cp);
    const stderr = collect(cp.stderr!);
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Pod ${host}:${port} not ready within 15 s`)), 15_000);
      createInterface({ input: cp.stdout! }).on('line', (line) => {
        try {
          const m = JSON.parse(line) as { ready?: boolean; address?: string };
          if (m.ready && m.address) {
            clearTimeout(timer);
            resolve(m.address);
          }
        } catch {
          /* not the ready line */
        }
      });
      void child.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`Pod ${host}:${port} exited before it was ready: ${stderr().trim().split('\n').pop() ?? ''}`));
      });
    }).catch(async (error: unknown) => {
      await this.stop(child, 1000);
      throw error;
    });
    return Object.assign(child, { address });
  }

  /** examples/headless-dns/server.ts on 127.0.0.1 (free port), driven over IPC. */
  async startDns(): Promise<Child & { port: number; set(name: string, addresses: string[], ttl: number): Promise<void> }> {
    const cp = fork(DNS_SCRIPT, ['--host', '127.0.0.1', '--port', '0'], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: true,
    });
    const child = this.register('dns', 'headless DNS', cp);
    const stderr = collect(cp.stderr!);
    const pending = new Map<number, { resolve(): void; reject(e: Error): void }>();
    let nextId = 1;
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('headless DNS not ready within 15 s')), 15_000);
      cp.on('message', (raw: unknown) => {
        const m = raw as { ready?: boolean; port?: number; ack?: number; ok?: boolean; error?: string };
        if (m.ready && typeof m.port === 'number') {
          clearTimeout(timer);
          resolve(m.port);
        } else if (typeof m.ack === 'number') {
          const p = pending.get(m.ack);
          pending.delete(m.ack);
          if (m.ok) p?.resolve();
          else p?.reject(new Error(`headless DNS: ${m.error ?? 'failed'}`));
        }
      });
      void child.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`headless DNS exited: ${stderr().trim()}`));
        for (const p of pending.values()) p.reject(new Error('headless DNS exited'));
      });
    });
    const set = (name: string, addresses: string[], ttl: number): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        if (!cp.connected) return reject(new Error('headless DNS is not running'));
        const id = nextId++;
        pending.set(id, { resolve, reject });
        cp.send({ id, cmd: 'set', name, addresses, ttl });
      });
    return Object.assign(child, { port, set });
  }

  /**
   * `node dist/cli.js ARGS`, as a user runs it. Its output goes to `logFile`; each JSON line is
   * also handed to `onLog`. Resolves with the URLs from its "gateway started" line.
   */
  async startGateway(
    args: string[],
    logFile: string,
    onLog: (entry: Record<string, unknown>) => void,
  ): Promise<Child & { httpUrl: string; adminUrl: string }> {
    mkdirSync(path.dirname(logFile), { recursive: true });
    const log = createWriteStream(logFile);
    const cp = spawn(process.execPath, [path.join(ROOT, 'dist/cli.js'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const child = this.register('gateway', 'gateway', cp);
    const tail: string[] = [];
    let started: ((urls: { httpUrl: string; adminUrl: string }) => void) | undefined;
    const onLine = (line: string): void => {
      log.write(line + '\n');
      tail.push(line);
      if (tail.length > 5) tail.shift();
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (entry.msg === 'gateway started' && typeof entry.listen === 'string' && typeof entry.admin === 'string') {
        started?.({ httpUrl: entry.listen, adminUrl: entry.admin });
      }
      onLog(entry);
    };
    createInterface({ input: cp.stdout! }).on('line', onLine);
    createInterface({ input: cp.stderr! }).on('line', onLine);
    void child.exited.then(() => log.end());
    const urls = await new Promise<{ httpUrl: string; adminUrl: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the gateway did not start within 15 s')), 15_000);
      started = (u) => {
        clearTimeout(timer);
        resolve(u);
      };
      void child.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited (code ${cp.exitCode}): ${tail.join(' | ')}`));
      });
    }).catch(async (error: unknown) => {
      await this.stop(child, 1000);
      throw error;
    });
    return Object.assign(child, urls);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Keeps the last few KiB a stream wrote, for error messages. */
function collect(stream: NodeJS.ReadableStream): () => string {
  let text = '';
  stream.on('data', (d: Buffer) => {
    text = (text + d.toString()).slice(-4096);
  });
  return () => text;
}
