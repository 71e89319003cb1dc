// The credentials of every channel to every Pod, renewed when the files behind them change.
//
// A cert-manager client certificate lives days; the gateway runs longer. --upstream-ca,
// --upstream-cert and --upstream-key are read again while it runs (config/pem-watch.ts): a usable
// change becomes new credentials, and every pool is told, so that each Pod gets a new connection
// made with them while the old one drains (endpoint.ts renewConnections).
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { SecureContext } from 'node:tls';
import { checkCertificates, checkPrivateKey, keyMatchesCertificate } from '../config/pem-files.js';
import { PemFilesWatcher, type PemSet } from '../config/pem-watch.js';
import type { UpstreamTlsConfig } from '../config/types.js';
import { secureContextOf } from './http2/tls.js';
import type { Logger } from './logger.js';

type TlsFile = 'ca' | 'cert' | 'key';

/** What holds channels made with the credentials: told when they are replaced. */
export interface CredentialUser {
  renewConnections(): void;
}

function makeCredentials(tls: UpstreamTlsConfig | null): ChannelCredentials {
  if (tls === null) return credentials.createInsecure();
  // A null CA: Node's default store (its bundled public CAs, plus NODE_EXTRA_CA_CERTS).
  return credentials.createSsl(tls.ca, tls.key, tls.cert);
}

/**
 * One object for every pool, so that the CA bundle and client key are parsed once (createSsl
 * builds one secure context) however many Pods there are.
 */
export class UpstreamCredentials {
  private credentials: ChannelCredentials;
  /** The node:http2 client's equivalent of `credentials`, made at first use per generation. */
  private context: SecureContext | undefined;
  private renewals = 0;
  private readonly users = new Set<CredentialUser>();
  private readonly watcher: PemFilesWatcher<TlsFile> | null = null;

  /** With `log` (the gateway), the files are watched while a pool uses them; without, never. */
  constructor(
    private config: UpstreamTlsConfig | null,
    log?: Logger,
    intervalMs?: number,
  ) {
    this.credentials = makeCredentials(config);
    const files = config?.files;
    if (config === null || files === undefined || log === undefined) return;
    this.watcher = new PemFilesWatcher<TlsFile>({
      paths: files as Record<TlsFile, string>,
      initial: { ca: config.ca, cert: config.cert, key: config.key } as PemSet<TlsFile>,
      apply: (next) => this.replace(next),
      log,
      messages: {
        reloaded: 'upstream TLS files reloaded: new connections to every Pod use them, the old ones drain',
        rejected: 'upstream TLS files changed but cannot be used: keeping the ones in use',
      },
      intervalMs,
    });
  }

  get current(): ChannelCredentials {
    return this.credentials;
  }

  /** The TLS context of the node:http2 client (--upstream-client http2); null: plaintext. */
  get secureContext(): SecureContext | null {
    if (this.config === null) return null;
    return (this.context ??= secureContextOf(this.config));
  }

  /** How many times they were replaced: a connection made with an older generation is stale. */
  get generation(): number {
    return this.renewals;
  }

  /** A pool starts using them: renewals reach it, and the files are watched while any pool does. */
  attach(user: CredentialUser): void {
    this.users.add(user);
    this.watcher?.start();
  }

  detach(user: CredentialUser): void {
    this.users.delete(user);
    if (this.users.size === 0) this.watcher?.stop();
  }

  /** Reads the files once now (the timer does it every second; a test need not wait). */
  async check(): Promise<void> {
    await this.watcher?.check();
  }

  /** A changed set of files: checked as at start, then in use for every new connection. Throws why not. */
  private replace(next: Partial<PemSet<TlsFile>>): void {
    const files = this.config!.files!;
    if (next.ca) checkCertificates(files.ca!, next.ca);
    if (next.cert && next.key) {
      const cert = checkCertificates(files.cert!, next.cert);
      const key = checkPrivateKey(files.key!, next.key);
      if (!keyMatchesCertificate(cert, key)) throw new Error(`'${key.path}' is not the key of the certificate in '${cert.path}'`);
    }
    const config: UpstreamTlsConfig = { ...this.config!, ca: next.ca ?? this.config!.ca, cert: next.cert ?? null, key: next.key ?? null };
    let context: SecureContext;
    try {
      // The context the http2 client will use: making it is also the check that the set is usable.
      context = secureContextOf(config);
    } catch (error) {
      throw new Error(`they make no usable TLS context: ${(error as Error).message}`);
    }
    this.credentials = makeCredentials(config);
    this.context = context;
    this.config = config;
    this.renewals++;
    for (const user of this.users) user.renewConnections();
  }
}
