// PEM files named by settings, read again while the gateway runs, so that rotated certificates
// are used without a restart. Kubernetes updates a mounted Secret by swapping a `..data` symlink;
// others rename a new file over the old one or rewrite it in place. fs.watch misses some of these
// (a watched inode that is replaced, a symlink swapped above the watched name), so the files are
// read on a timer and compared by content: a few small reads a second catch every way.
import { readFile } from 'node:fs/promises';

/** How often the files are read again: a change is in use within this (the contract is 5 s). */
export const PEM_RELOAD_INTERVAL_MS = 1_000;

/** Each watched file's bytes, by name (e.g. cert, key, ca). */
export type PemSet<K extends string> = Record<K, Buffer>;

export interface PemWatchLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface PemWatchOptions<K extends string> {
  /** The files, by name. */
  paths: Record<K, string>;
  /** Their bytes as in use now (read at start). */
  initial: PemSet<K>;
  /**
   * Puts a changed set in use; throws an Error saying why it cannot be (its message is logged),
   * and the set in use stays.
   */
  apply(next: PemSet<K>): void;
  log: PemWatchLog;
  /** The log line of a change put in use, and of one that cannot be (with its `reason`). */
  messages: { reloaded: string; rejected: string };
  intervalMs?: number;
}

function sameSet<K extends string>(a: PemSet<K>, b: PemSet<K>): boolean {
  for (const name in a) if (!a[name].equals(b[name])) return false;
  return true;
}

/**
 * Reads the files every interval and, when their content has changed, applies it. A change that
 * cannot be used (garbage, a key that does not match, a file gone) is logged once, not once per
 * read, and the files in use stay in use.
 */
export class PemFilesWatcher<K extends string> {
  private current: PemSet<K>;
  private rejected: PemSet<K> | string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reading = false;

  constructor(private readonly o: PemWatchOptions<K>) {
    this.current = o.initial;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? PEM_RELOAD_INTERVAL_MS);
    // Never what keeps a process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads the files once and applies a usable change (the timer calls it; so may a test). */
  async check(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      await this.compare();
    } finally {
      this.reading = false;
    }
  }

  private async compare(): Promise<void> {
    const names = Object.keys(this.o.paths) as K[];
    let next: PemSet<K>;
    try {
      const bytes = await Promise.all(names.map((name) => readFile(this.o.paths[name])));
      next = Object.fromEntries(names.map((name, i) => [name, bytes[i]!])) as PemSet<K>;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      this.reject(`cannot read ${e.path ?? 'a file'}: ${e.code ?? e.message}`);
      return;
    }
    if (sameSet(next, this.current)) {
      this.rejected = null;
      return;
    }
    if (this.rejected !== null && typeof this.rejected !== 'string' && sameSet(next, this.rejected)) return;
    try {
      this.o.apply(next);
    } catch (error) {
      this.reject((error as Error).message, next);
      return;
    }
    this.current = next;
    this.rejected = null;
    this.o.log.info({ files: Object.values(this.o.paths) }, this.o.messages.reloaded);
  }

  /** Logs a change that cannot be used, once: the same reason (or content) again says nothing. */
  private reject(reason: string, set?: PemSet<K>): void {
    if (set === undefined && this.rejected === reason) return;
    this.rejected = set ?? reason;
    this.o.log.warn({ reason }, this.o.messages.rejected);
  }
}
