// PEM files named by settings (certificates, CA bundles, private keys), read and checked when the
// configuration is loaded: a wrong path or a file of the wrong kind stops the gateway at start with
// one line naming the setting, instead of surfacing later as a handshake that fails on every Pod.
// Like every parser here, errors do not name the setting; the loader prefixes it.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface PemFile {
  path: string;
  /** The file's bytes, as read at start. */
  pem: Buffer;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function readBytes(path: string): Buffer {
  if (path.trim() === '') throw new Error('empty path');
  try {
    return readFileSync(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new Error(`cannot read '${path}' (${e.code ?? e.message})`);
  }
}

/** One or more PEM certificates (a chain, leaf first, or a CA bundle); each must parse. */
export function readCertificates(path: string): PemFile {
  return checkCertificates(path, readBytes(path));
}

/** The bytes of `path` hold PEM certificates that all parse (also for files read again later). */
export function checkCertificates(path: string, pem: Buffer): PemFile {
  const blocks = pem.toString('latin1').match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error(`'${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(`'${path}': certificate ${i + 1} does not parse (${(error as Error).message})`);
    }
  });
  return { path, pem };
}

/** An unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1). */
export function readPrivateKey(path: string): PemFile {
  return checkPrivateKey(path, readBytes(path));
}

/** The bytes of `path` hold an unencrypted PEM private key. */
export function checkPrivateKey(path: string, pem: Buffer): PemFile {
  const text = pem.toString('latin1');
  if (text.includes('ENCRYPTED')) throw new Error(`'${path}' is an encrypted key; give an unencrypted one`);
  try {
    createPrivateKey(pem);
  } catch (error) {
    throw new Error(`'${path}' holds no usable PEM private key (${(error as Error).message})`);
  }
  return { path, pem };
}

/** Whether `key` belongs to the first (leaf) certificate of `chain`. */
export function keyMatchesCertificate(chain: PemFile, key: PemFile): boolean {
  const leaf = new X509Certificate(chain.pem.toString('latin1').match(CERT_BLOCK)![0]!);
  const keyObject: KeyObject = createPrivateKey(key.pem);
  return leaf.checkPrivateKey(keyObject);
}
