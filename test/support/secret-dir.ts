// A directory laid out as Kubernetes mounts a Secret, and the ways its files get updated, for the
// tests of certificate reloading (the listener's --tls-cert, the Pods' --upstream-cert).
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestCert } from './tls.js';

/** A certificate and its key, as PEM paths (a TestCert, or a deliberately mismatched pair). */
export type CertFiles = Pick<TestCert, 'cert' | 'key'>;

/**
 * A directory laid out as Kubernetes mounts a Secret: tls.crt -> ..data/tls.crt, ..data ->
 * ..<timestamp>/. Updating swaps the ..data symlink to a new directory in one rename.
 */
export class SecretDir {
  private generation = 0;
  constructor(readonly path: string) {}
  get cert(): string {
    return join(this.path, 'tls.crt');
  }
  get key(): string {
    return join(this.path, 'tls.key');
  }
  async init(c: CertFiles): Promise<void> {
    await mkdir(this.path, { recursive: true });
    await this.swap(c);
    await symlink('..data/tls.crt', this.cert);
    await symlink('..data/tls.key', this.key);
  }
  /** The kubelet's atomic update: a new ..<n> directory, then ..data renamed to point at it. */
  async swap(c: CertFiles): Promise<void> {
    const data = `..gen${++this.generation}`;
    await mkdir(join(this.path, data));
    await writeFile(join(this.path, data, 'tls.crt'), await readFile(c.cert));
    await writeFile(join(this.path, data, 'tls.key'), await readFile(c.key));
    await symlink(data, join(this.path, '..data_tmp'));
    await rename(join(this.path, '..data_tmp'), join(this.path, '..data'));
  }
  /** Rewrites the files in place (through the symlinks). */
  async rewrite(c: CertFiles): Promise<void> {
    await writeFile(this.cert, await readFile(c.cert));
    await writeFile(this.key, await readFile(c.key));
  }
  /** Writes new files beside the current ones and renames them over (through ..data). */
  async renameOver(c: CertFiles): Promise<void> {
    const target = join(this.path, '..data');
    await writeFile(join(target, 'tls.crt.new'), await readFile(c.cert));
    await writeFile(join(target, 'tls.key.new'), await readFile(c.key));
    await rename(join(target, 'tls.key.new'), join(target, 'tls.key'));
    await rename(join(target, 'tls.crt.new'), join(target, 'tls.crt'));
  }
}
