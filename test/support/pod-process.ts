// An echo Pod as a real child process (fork with IPC), for tests that kill, restart or drain Pods.
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../../examples/echo-pod/server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface PodStats {
  calls: number;
  cancelled: number;
}

export interface PodProcess {
  /** "host:port" */
  address: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM (graceful: in-flight calls finish); resolves when the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL, like a crashed Pod; resolves when the process has exited. */
  kill(): Promise<void>;
  stats(): Promise<PodStats>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/** Starts examples/echo-pod/server.ts listening on host:port (port 0 = pick) and waits until it is ready. */
export async function spawnPod(host: string, port: number, timeoutMs = 15_000): Promise<PodProcess> {
  killAllOnExit();
  const child = fork(SERVER, ['--host', host, '--port', String(port)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  void exited.then(() => live.delete(child));

  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`echo pod ${host}:${port} not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; address?: string };
        if (msg.ready && msg.address) {
          clearTimeout(timer);
          resolve(msg.address);
        }
      } catch {
        // not ours
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`echo pod ${host}:${port} exited (code ${child.exitCode}, signal ${child.signalCode}) before ready`));
    });
  });

  let nextId = 0;
  return {
    address,
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stats() {
      const id = ++nextId;
      return new Promise<PodStats>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error('stats: no answer within 5 s')), 5_000);
        const onMessage = (m: unknown): void => {
          const r = m as { type?: string; id?: number; calls: number; cancelled: number };
          if (r?.type === 'stats' && r.id === id) done(undefined, { calls: r.calls, cancelled: r.cancelled });
        };
        const onExit = (): void => done(new Error('stats: pod exited'));
        function done(err?: Error, s?: PodStats): void {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(s!);
        }
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ cmd: 'stats', id });
      });
    },
  };
}
