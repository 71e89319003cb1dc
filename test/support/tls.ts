// Test certificates made with Debian's `openssl` at test time, in a directory the test owns (a temp dir):
// nothing secret is ever committed. EC P-256 keys, because RSA key generation is slow on a loaded machine.
//
//   const ca = await makeCa(dir);
//   const pod = await makeCert(ca, { cn: 'echo', sans: ['echo-headless.demo.svc'] });
//   const expired = await makeCert(ca, { cn: 'old', sans: ['echo'], days: -1 });   // notAfter in the past
//   const client = await makeCert(ca, { cn: 'gateway', client: true });           // clientAuth only
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCa {
  /** The directory the CA and every certificate it signs are written to. */
  dir: string;
  /** PEM paths. */
  cert: string;
  key: string;
}

export interface TestCert {
  /** PEM paths of the leaf certificate and its private key (unencrypted). */
  cert: string;
  key: string;
  /** The serial as Node prints it (`X509Certificate.serialNumber`, `getPeerCertificate().serialNumber`): upper-case hex. */
  serial: string;
  /** base64(SHA-256(SubjectPublicKeyInfo)): what Chromium's --ignore-certificate-errors-spki-list takes. */
  spki: string;
}

export interface CertOptions {
  /** Subject common name; also the file name stem, so keep it unique per CA directory. */
  cn: string;
  /** subjectAltName entries: IP addresses become IP:, anything else DNS:. Default: none. */
  sans?: string[];
  /** Validity in days from now; negative makes a certificate that has already expired. Default 2. */
  days?: number;
  /** A client certificate (extendedKeyUsage clientAuth) instead of a server one (serverAuth). */
  client?: boolean;
}

let counter = 0;

/** A self-signed test CA in `dir` (created if missing). Each CA has its own random name, so two differ. */
export async function makeCa(dir: string, name = `gwg-test-ca-${randomBytes(4).toString('hex')}`): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const stem = join(dir, `${name}`);
  const ca: TestCa = { dir, cert: `${stem}.pem`, key: `${stem}.key` };
  await run('openssl', [
    'req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return ca;
}

/** A leaf certificate signed by `ca`, written next to it as `<cn>-<n>.pem` / `.key`. */
export async function makeCert(ca: TestCa, options: CertOptions): Promise<TestCert> {
  const stem = join(ca.dir, `${options.cn}-${++counter}`);
  const cert = `${stem}.pem`;
  const key = `${stem}.key`;
  const csr = `${stem}.csr`;
  const ext = `${stem}.ext`;
  await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${options.cn}`]);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${options.client === true ? 'clientAuth' : 'serverAuth'}`,
  ];
  const sans = (options.sans ?? []).map((s) => (isIP(s) === 0 ? `DNS:${s}` : `IP:${s}`));
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  await writeFile(ext, `${lines.join('\n')}\n`);
  // A random serial with the top bit clear, so it is positive and Node prints it without a sign byte.
  const serialBytes = randomBytes(8);
  serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x10;
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serialBytes.toString('hex')}`,
    '-days', String(options.days ?? 2), '-extfile', ext, '-out', cert,
  ]);
  const pem = await readFile(cert);
  const der = createPublicKey(await readFile(key)).export({ type: 'spki', format: 'der' });
  return {
    cert,
    key,
    serial: new X509Certificate(pem).serialNumber,
    spki: createHash('sha256').update(der).digest('base64'),
  };
}
