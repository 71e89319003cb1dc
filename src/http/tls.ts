// The serving port's certificate: read from --tls-cert and --tls-key (and the client CA of
// --tls-client-ca) at start, and again whenever the files change, however they change. Kubernetes
// updates a mounted Secret by swapping a `..data` symlink; others rename a new file over the old
// one or rewrite it in place. fs.watch misses some of these (a watched inode that is replaced, a
// symlink swapped above the watched name), so the files are read on a timer and compared by
// content: a few small reads a second catch every way.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { ListenerTlsConfig } from '../config/types.js';

/** How often the files are read again: a change is in use within this (the contract is 5 s). */
export const TLS_RELOAD_INTERVAL_MS = 1_000;

interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The client CA bundle; null without --tls-client-ca. */
  ca: Buffer | null;
}

function contextOptions(m: TlsMaterial): SecureContextOptions {
  return m.ca === null ? { cert: m.cert, key: m.key } : { cert: m.cert, key: m.key, ca: m.ca };
}

/** Throws unless the material makes a secure context (a PEM chain, and the key that matches it). */
function usable(files: ListenerTlsConfig, m: TlsMaterial): SecureContextOptions {
  const options = contextOptions(m);
  try {
    createSecureContext(options);
  } catch (error) {
    const ca = files.clientCaFile === null ? '' : ` and --tls-client-ca ${files.clientCaFile}`;
    throw new Error(`--tls-cert ${files.certFile} with --tls-key ${files.keyFile}${ca} cannot be used: ${(error as Error).message}`);
  }
  return options;
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === null ? b.ca === null : b.ca !== null && a.ca.equals(b.ca));
}

/** The certificate, key and client CA as the listener starts with them; throws a message naming the flags. */
export function initialTlsOptions(files: ListenerTlsConfig): SecureContextOptions & { material: TlsMaterial } {
  const material: TlsMaterial = {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ca: files.clientCaFile === null ? null : readFileSync(files.clientCaFile),
  };
  return { ...usable(files, material), material };
}

interface ReloadLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Reads the files every `intervalMs` and, when their content has changed and makes a usable
 * context, gives it to the server for the connections that follow; open connections keep the one
 * they were made with. A change that cannot be used (garbage, a key that does not match, a file
 * gone) keeps the current certificate and is logged once, not once per read.
 */
export class CertificateReloader {
  private current: TlsMaterial;
  private rejected: TlsMaterial | string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reading = false;

  constructor(
    private readonly files: ListenerTlsConfig,
    private readonly server: TlsServer,
    initial: TlsMaterial,
    private readonly log: ReloadLog,
    private readonly intervalMs = TLS_RELOAD_INTERVAL_MS,
  ) {
    this.current = initial;
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
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
    const files = this.files;
    let next: TlsMaterial;
    try {
      const [cert, key, ca] = await Promise.all([
        readFile(files.certFile),
        readFile(files.keyFile),
        files.clientCaFile === null ? null : readFile(files.clientCaFile),
      ]);
      next = { cert, key, ca };
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      this.reject(`cannot read ${e.path ?? 'a TLS file'}: ${e.code ?? e.message}`);
      return;
    }
    if (sameMaterial(next, this.current)) {
      this.rejected = null;
      return;
    }
    if (this.rejected !== null && typeof this.rejected !== 'string' && sameMaterial(next, this.rejected)) return;
    let options: SecureContextOptions;
    try {
      options = usable(files, next);
    } catch (error) {
      this.reject((error as Error).message, next);
      return;
    }
    this.server.setSecureContext(options);
    this.current = next;
    this.rejected = null;
    this.log.info({ cert: files.certFile }, 'TLS certificate reloaded: new connections get the new one');
  }

  /** Logs a change that cannot be used, once: the same reason (or content) again says nothing. */
  private reject(reason: string, material?: TlsMaterial): void {
    if (material === undefined && this.rejected === reason) return;
    this.rejected = material ?? reason;
    this.log.warn({ reason }, 'TLS files changed but cannot be used: keeping the current certificate');
  }
}
