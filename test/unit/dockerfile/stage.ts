// A small reader for our Dockerfile, and a replay of its stages' COPY/RUN steps in temp folders:
// there is no Docker engine on the development or CI machines, so the test rebuilds what the
// runtime stage would contain and runs it.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';

export interface Instruction {
  op: string;
  /** The rest of the line, continuations joined. */
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const start = i + 1;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile:${start}: cannot read '${line}'`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile:${start}: FROM ${args}`);
      const from = f[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => globalArgs.get(a ?? b) ?? '');
      stages.push({ name: f[2] ?? String(stages.length), from, steps: [] });
    } else if (op === 'ARG' && stages.length === 0) {
      const [k, v] = args.split('=');
      globalArgs.set(k!, v ?? '');
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile:${start}: ${op} before FROM`);
      stages.at(-1)!.steps.push({ op, args, line: start });
    }
  }
  return { args: globalArgs, stages };
}

/** ["a", "b"] exec form → array; anything else → null. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  return JSON.parse(args) as string[];
}

export interface CopyStep {
  from?: string;
  sources: string[];
  dest: string;
}

export function parseCopy(args: string): CopyStep {
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const w = words.shift()!;
    if (w.startsWith('--from=')) from = w.slice('--from='.length);
    else if (!/^--(chown|chmod|link)/.test(w)) throw new Error(`COPY option ${w} not understood by the replay`);
  }
  const dest = words.pop()!;
  return { from, sources: words, dest };
}

/**
 * Replays one stage into `root` (standing in for its WORKDIR): COPY from the build context
 * (`context`) or from another stage's folder (`stageRoots`, each standing for that stage's WORKDIR),
 * and RUN through sh in `root`. Returns the stage's ENV.
 */
export function replayStage(
  stage: Stage,
  root: string,
  context: string,
  stageRoots: Map<string, string>,
  runEnv: NodeJS.ProcessEnv,
): { env: Record<string, string>; runs: Array<{ command: string; status: number | null; output: string }> } {
  mkdirSync(root, { recursive: true });
  let workdir = '/';
  const env: Record<string, string> = {};
  const runs: Array<{ command: string; status: number | null; output: string }> = [];
  /** A path inside the image (absolute or relative to WORKDIR) → the same path under `base`. */
  const local = (p: string, base: string) => {
    const abs = posix.resolve(workdir, p);
    if (abs !== workdir && !abs.startsWith(`${workdir}/`)) {
      throw new Error(`path ${p} is outside WORKDIR ${workdir}: the replay only maps WORKDIR`);
    }
    return join(base, abs.slice(workdir.length));
  };
  for (const step of stage.steps) {
    switch (step.op) {
      case 'WORKDIR':
        workdir = step.args;
        break;
      case 'ENV': {
        const [k, ...v] = step.args.split('=');
        env[k!] = v.join('=');
        break;
      }
      case 'COPY': {
        const c = parseCopy(step.args);
        for (const src of c.sources) {
          let from: string;
          if (c.from) {
            const other = stageRoots.get(c.from);
            if (!other) throw new Error(`COPY --from=${c.from}: stage not replayed`);
            // Every stage's WORKDIR is /app (checked by the test), replayed as that stage's root.
            if (!src.startsWith('/app/')) throw new Error(`COPY --from=${c.from} ${src}: only /app/... is replayed`);
            from = join(other, src.slice('/app/'.length));
          } else from = join(context, src);
          if (!existsSync(from)) throw new Error(`Dockerfile:${step.line}: COPY source ${src} missing (${from})`);
          // Docker: a file goes into dest/ when dest is a folder (ends in / or several sources),
          // else becomes dest; a folder's *contents* go into dest.
          const destIsDir = c.dest.endsWith('/') || c.sources.length > 1;
          const isDir = statSync(from).isDirectory();
          const to = !isDir && destIsDir ? join(local(c.dest, root), basename(src)) : local(c.dest, root);
          mkdirSync(dirname(to), { recursive: true });
          // Docker copies a directory's contents into dest; cpSync(dir, dest) does the same.
          cpSync(from, to, { recursive: true, dereference: true });
        }
        break;
      }
      case 'RUN': {
        // BuildKit options (--mount=type=cache for npm's cache) change no file the stage keeps.
        const command = step.args.replace(/^(--\S+\s+)+/, '');
        const r = spawnSync('sh', ['-c', command], {
          cwd: local(workdir, root),
          env: { ...runEnv, ...env },
          encoding: 'utf8',
          timeout: 300_000,
        });
        runs.push({ command, status: r.status, output: `${r.stdout}\n${r.stderr}` });
        if (r.status !== 0) return { env, runs };
        break;
      }
      default:
        // USER, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD, ARG, LABEL: no effect on files.
        break;
    }
  }
  return { env, runs };
}
