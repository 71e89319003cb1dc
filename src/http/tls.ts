// The serving port's certificate: read from --tls-cert and --tls-key (and the client CA of
// --tls-client-ca) at start, and again whenever the files change, however they change (rewritten,
// renamed over, a Secret's `..data` symlink swapped: config/pem-watch.ts).
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import { PEM_RELOAD_INTERVAL_MS, PemFilesWatcher, type PemSet, type PemWatchLog } from '../config/pem-watch.js';
import type { ListenerTlsConfig } from '../config/types.js';

/** How often the files are read again: a change is in use within this (the contract is 5 s). */
export const TLS_RELOAD_INTERVAL_MS = PEM_RELOAD_INTERVAL_MS;

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

/** The certificate, key and client CA as the listener starts with them; throws a message naming the flags. */
export function initialTlsOptions(files: ListenerTlsConfig): SecureContextOptions & { material: TlsMaterial } {
  const material: TlsMaterial = {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ca: files.clientCaFile === null ? null : readFileSync(files.clientCaFile),
  };
  return { ...usable(files, material), material };
}

/**
 * Reads the files every `intervalMs` (config/pem-watch.ts) and, when their content has changed and
 * makes a usable context, gives it to the server for the connections that follow; open
 * connections keep the one they were made with. A change that cannot be used (garbage, a key that
 * does not match, a file gone) keeps the current certificate and is logged once, not once per read.
 */
export class CertificateReloader {
  private readonly watcher: PemFilesWatcher<keyof TlsMaterial>;

  constructor(files: ListenerTlsConfig, server: TlsServer, initial: TlsMaterial, log: PemWatchLog, intervalMs = TLS_RELOAD_INTERVAL_MS) {
    const paths: Partial<Record<keyof TlsMaterial, string>> = { cert: files.certFile, key: files.keyFile };
    if (files.clientCaFile !== null) paths.ca = files.clientCaFile;
    this.watcher = new PemFilesWatcher<keyof TlsMaterial>({
      paths: paths as Record<keyof TlsMaterial, string>,
      initial: initial as PemSet<keyof TlsMaterial>,
      apply: (next) => server.setSecureContext(usable(files, { cert: next.cert, key: next.key, ca: next.ca ?? null })),
      log,
      messages: {
        reloaded: 'TLS certificate reloaded: new connections get the new one',
        rejected: 'TLS files changed but cannot be used: keeping the current certificate',
      },
      intervalMs,
    });
  }

  start(): void {
    this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  /** Reads the files once and applies a usable change (the timer calls it; so may a test). */
  check(): Promise<void> {
    return this.watcher.check();
  }
}
