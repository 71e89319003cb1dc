// The Dockerfile, without a Docker engine: its shape is checked, then its runtime stage is
// replayed into a temp folder (COPY → copies) from a build made as the build stage makes it,
// and the result is started the way the image's ENTRYPOINT starts it: /healthz answers, SIGTERM
// turns /readyz 503 and then exits 0. The temp folder lies outside the repo and holds no
// node_modules, so any import the bundle does not carry fails here as it would in the image.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execForm, parseCopy, parseDockerfile, replayStage, type Stage } from './stage.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`Dockerfile has no stage ${name}`);
  return s;
};
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('Dockerfile shape', () => {
  it('build → runtime, both on node:20-bookworm-slim, WORKDIR /app', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const s of dockerfile.stages) {
      expect(s.from, s.name).toBe('node:20-bookworm-slim');
      expect(s.steps.filter((i) => i.op === 'WORKDIR').map((i) => i.args), s.name).toEqual(['/app']);
    }
  });

  it('build: npm ci, whose prepare script bundles dist', () => {
    const runs = stage('build').steps.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /(^|\s)npm ci(\s|$)/.test(r) && !r.includes('--ignore-scripts'))).toBe(true);
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.scripts.build).toBe('node scripts/bundle.mjs && tsc -p tsconfig.build.json');
    // Everything the build reads is copied before npm ci runs.
    const copied = stage('build').steps.filter((i) => i.op === 'COPY').flatMap((i) => parseCopy(i.args).sources);
    expect(copied).toEqual(
      expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/bundle.mjs', 'src']),
    );
    // ...including the modules the bundle script imports itself (the asset plugin).
    const ownImports = [...readFileSync(join(REPO, 'scripts/bundle.mjs'), 'utf8').matchAll(/from '\.\/([^']+)'/g)].map((m) => `scripts/${m[1]}`);
    expect(ownImports).toContain('scripts/assets.mjs');
    expect(copied).toEqual(expect.arrayContaining(ownImports));
  });

  it('runtime: the bundle only (no node_modules), non-root 10001, ports 8080 9901, node dist/cli.js as PID 1', () => {
    const rt = stage('runtime');
    expect(rt.steps.filter((i) => i.op === 'RUN')).toEqual([]); // nothing installed or built here
    const copies = rt.steps.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args));
    expect(copies.filter((c) => c.from !== undefined && c.from !== 'build')).toEqual([]);
    expect(copies).toContainEqual({ from: 'build', sources: ['/app/dist'], dest: './dist' });
    expect(copies.filter((c) => c.from === 'build').flatMap((c) => c.sources)).toEqual(['/app/dist']);
    const user = rt.steps.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(user).toEqual(['10001:10001']);
    expect(rt.steps.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/)).toEqual(['8080', '9901']);
    const entry = execForm(rt.steps.find((i) => i.op === 'ENTRYPOINT')!.args);
    // Exec form: node itself is PID 1 and receives SIGTERM (a shell form would put sh in between).
    expect(entry).toEqual(['node', pkg.bin['grpc-web-gateway']]);
    expect(execForm(rt.steps.find((i) => i.op === 'CMD')!.args)).not.toBeNull();
    // USER comes before ENTRYPOINT and after every COPY (files stay root-owned, read-only to 10001).
    const idx = (op: string) => rt.steps.map((i) => i.op).lastIndexOf(op);
    expect(idx('USER')).toBeGreaterThan(idx('COPY'));
  });

  it('.dockerignore keeps the context to what the Dockerfile copies', () => {
    const lines = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('**');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/\*\*$/, ''));
    const sources = dockerfile.stages
      .flatMap((s) => s.steps)
      .filter((i) => i.op === 'COPY')
      .map((i) => parseCopy(i.args))
      .filter((c) => !c.from)
      .flatMap((c) => c.sources);
    for (const s of sources) expect(allowed, `COPY ${s} is excluded by .dockerignore`).toContain(s);
  });
});

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function status(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Dockerfile replay (runtime stage)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'gwg-docker-'));
  const roots = new Map([
    ['build', join(tmp, 'build')],
    ['runtime', join(tmp, 'runtime')],
  ]);
  let runtimeEnv: Record<string, string> = {};
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // The build stage's product: dist, bundled as the prepare script bundles it, into the temp
    // folder (the repo's own dist/ may be stale or being rebuilt by someone else).
    const bundle = spawnSync(process.execPath, [join(REPO, 'scripts/bundle.mjs'), join(roots.get('build')!, 'dist')], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (bundle.status !== 0) throw new Error(`bundle failed:\n${bundle.stdout}${bundle.stderr}`);
    runtimeEnv = replayStage(stage('runtime'), roots.get('runtime')!, REPO, roots, {}).env;
  }, 600_000);

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('runtime folder: the bundle, package.json and protos; no node_modules', () => {
    const rt = roots.get('runtime')!;
    expect(existsSync(join(rt, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(rt, 'dist/gateway.js'))).toBe(true);
    expect(readdirSync(rt).sort()).toEqual(['dist', 'package.json', 'protos']);
  });

  it('starts as the ENTRYPOINT does, serves, and on SIGTERM turns /readyz 503, keeps serving, exits 0', async () => {
    const entry = execForm(stage('runtime').steps.find((i) => i.op === 'ENTRYPOINT')!.args)!;
    const admin = await freePort();
    const adminUrl = `http://127.0.0.1:${admin}`;
    const listen = await freePort();
    // /readyz needs one READY upstream Pod: a gRPC server with no services is enough.
    const backend = new grpc.Server();
    const backendPort = await new Promise<number>((resolve, reject) =>
      backend.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    const args = [
      ...entry.slice(1),
      `--upstream=127.0.0.1:${backendPort}`,
      `--listen=127.0.0.1:${listen}`,
      `--admin=127.0.0.1:${admin}`,
      '--shutdown-delay=2s',
      '--drain-timeout=2s',
      '--log-level=warn',
    ];
    // A clean environment: no GWG_* or NODE_OPTIONS from the test run leaks in; the image's ENV.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmp, ...runtimeEnv };
    let output = '';
    const proc = spawn(entry[0] === 'node' ? process.execPath : entry[0]!, args, { cwd: roots.get('runtime'), env });
    child = proc;
    proc.stdout.on('data', (d) => (output += d));
    proc.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));

    try {
      await waitFor('/healthz 200', async () => {
        if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}:\n${output}`);
        return (await status(`${adminUrl}/healthz`)) === 200;
      }, 20_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${output}`);
    }
    try {
      await waitFor('/readyz 200', async () => (await status(`${adminUrl}/readyz`)) === 200, 10_000);
      // A real gRPC-Web call through the bundle alone: the backend answers UNIMPLEMENTED.
      const res = await fetch(`http://127.0.0.1:${listen}/test.v1.Nothing/Call`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
        body: new Uint8Array([0, 0, 0, 0, 0]),
      });
      const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
      expect(res.status).toBe(200);
      expect(res.headers.get('grpc-status') ?? /grpc-status:\s*(\d+)/.exec(body)?.[1]).toBe('12');
    } catch (err) {
      backend.forceShutdown();
      throw new Error(`${(err as Error).message}\n${output}`);
    }

    const t0 = Date.now();
    proc.kill('SIGTERM');
    // During --shutdown-delay the gateway still serves, but says it is not ready.
    await waitFor('/readyz 503 after SIGTERM', async () => (await status(`${adminUrl}/readyz`)) === 503, 1500);
    expect(await status(`${adminUrl}/healthz`)).toBe(200);
    const code = await exited;
    backend.forceShutdown();
    expect(code, output).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900); // the delay was honoured
  }, 60_000);
});
