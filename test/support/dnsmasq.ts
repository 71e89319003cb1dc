// Debian's dnsmasq (package dnsmasq-base, /usr/sbin/dnsmasq) serving a headless Service the way
// small clusters and CI setups often do: from a hosts file, one line per ready Pod IP with the
// Service's FQDN, re-read on SIGHUP. A real DNS server this project did not write, with its own
// habits: with no upstream (--no-resolv) it answers REFUSED for every name it has no record of -
// including AAAA of a name it only has A records for, and any unknown name (so a scale to zero
// looks like a failure, never like NXDOMAIN); with `localDomain` (--local=/domain/) it answers
// NXDOMAIN / NOERROR-without-records in that domain instead, like an authoritative server.
//
// Started in the foreground as a child process on 127.0.0.1:<free port>, UDP and TCP; stopped by
// its PID. set() rewrites the hosts file, sends SIGHUP, and resolves once dnsmasq answers the new
// set (asked over DNS), so a test that awaits it knows the next query sees the change.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { queryDns, type DnsRecordType } from '../../src/upstream/resolver/dns-client.js';
import { freePort } from './ports.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface DnsmasqOptions {
  /** TTL of every answer from the hosts file (--local-ttl). Default 30 s. */
  ttl?: number;
  /** Answer for this domain authoritatively (--local=/domain/): NXDOMAIN / empty NOERROR instead of REFUSED. */
  localDomain?: string;
  /** How long start, stop and set() may take. Default 10 s. */
  timeoutMs?: number;
}

export interface Dnsmasq {
  address: { host: string; port: number };
  pid: number;
  /**
   * The hosts file now lists `addresses` for `name` (none: the name is gone); resolves once dnsmasq
   * serves it and log() holds every query asked so far (set() asks A and AAAA itself).
   */
  set(name: string, addresses: string[]): Promise<void>;
  remove(name: string): Promise<void>;
  /** What dnsmasq wrote to its log so far (--log-queries, one `query[TYPE] NAME from IP` line per query). */
  log(): string;
  /** SIGTERM, then SIGKILL if it lingers; the temp directory is removed. */
  stop(): Promise<void>;
}

/** Fails the test file with how to install dnsmasq when it is missing (tests are never skipped). */
function requireDnsmasq(): void {
  if (!existsSync(DNSMASQ)) {
    throw new Error(`${DNSMASQ} not found: install Debian's dnsmasq-base (apt-get install dnsmasq-base; .ci/run does it)`);
  }
}

const HOST = '127.0.0.1';
const key = (name: string): string => name.replace(/\.+$/, '').toLowerCase();

export async function startDnsmasq(opts: DnsmasqOptions = {}): Promise<Dnsmasq> {
  requireDnsmasq();
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dnsmasq-'));
  const hostsFile = path.join(dir, 'hosts');
  const names = new Map<string, string[]>();
  await writeFile(hostsFile, '');

  // freePort() checks TCP only and another process may take the port before dnsmasq binds it:
  // when dnsmasq exits at start ("Address in use"), try another port.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(HOST);
    try {
      const child = await launch(port, hostsFile, opts, timeoutMs);
      return handle(child.proc, child.log, port, dir, hostsFile, names, timeoutMs);
    } catch (err) {
      lastError = err as Error;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error('dnsmasq did not start');
}

async function launch(port: number, hostsFile: string, opts: DnsmasqOptions, timeoutMs: number): Promise<{ proc: ChildProcess; log: () => string }> {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null', // nothing from /etc/dnsmasq.conf or /etc/dnsmasq.d
    '--no-resolv', // no upstream: what it does not know, it refuses
    '--no-hosts', // not /etc/hosts: only the Service's hosts file
    `--addn-hosts=${hostsFile}`,
    '--bind-interfaces',
    `--listen-address=${HOST}`,
    `--port=${port}`,
    '--pid-file=', // none: we hold the PID
    `--user=${os.userInfo().username}`, // as root it would switch to nobody, who cannot read our temp dir
    `--local-ttl=${opts.ttl ?? 30}`,
    '--log-queries',
    '--log-facility=-', // stderr
    ...(opts.localDomain ? [`--local=/${opts.localDomain}/`] : []),
  ];
  const proc = spawn(DNSMASQ, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    // Bounded: a long test must not grow this without limit.
    log = (log + d).slice(-64 * 1024);
  });
  const killOnExit = (): void => void proc.kill('SIGKILL');
  process.on('exit', killOnExit);
  proc.once('exit', () => process.off('exit', killOnExit));

  // Up when it answers a query (REFUSED for a name it does not know is an answer).
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`dnsmasq exited at start (code ${proc.exitCode}): ${log.trim()}`);
    try {
      await queryDns({ host: HOST, port }, 'ready.invalid', 'A', { timeoutMs: 200 });
      return { proc, log: () => log };
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`dnsmasq did not answer within ${timeoutMs} ms: ${log.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function handle(
  proc: ChildProcess,
  log: () => string,
  port: number,
  dir: string,
  hostsFile: string,
  names: Map<string, string[]>,
  timeoutMs: number,
): Dnsmasq {
  const address = { host: HOST, port };
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });

  /** The addresses dnsmasq gives for one family of `name` ([] for REFUSED / NXDOMAIN / none). */
  const served = async (name: string, type: DnsRecordType): Promise<string[]> => {
    const a = await queryDns(address, name, type, { timeoutMs: 500 });
    return a.records.map((r) => r.address).sort();
  };

  // The log arrives over a pipe, apart from the answers: a marker query, once its line is read,
  // means every query before it is in log() too (dnsmasq logs in order).
  let marker = 0;
  const logSynced = async (): Promise<void> => {
    const name = `log-sync-${++marker}.invalid`;
    await queryDns(address, name, 'A', { timeoutMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    while (!log().includes(`query[A] ${name} `)) {
      if (Date.now() > deadline) throw new Error(`dnsmasq's log does not show ${name} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  const set = async (name: string, addresses: string[]): Promise<void> => {
    for (const a of addresses) if (!net.isIP(a)) throw new Error(`not an IP address: ${a}`);
    if (addresses.length > 0) names.set(key(name), [...addresses]);
    else names.delete(key(name));
    const lines = [...names].flatMap(([n, ips]) => ips.map((ip) => `${ip} ${n}`));
    await writeFile(hostsFile, lines.join('\n') + '\n');
    proc.kill('SIGHUP'); // re-read the hosts file, clear the cache
    const want4 = addresses.filter((a) => net.isIPv4(a)).sort().join(',');
    const want6 = addresses.filter((a) => net.isIPv6(a)).sort().join(',');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const [got4, got6] = await Promise.all([served(name, 'A'), served(name, 'AAAA')]);
        if (got4.join(',') === want4 && got6.join(',') === want6) return await logSynced();
      } catch {
        /* not answering this instant: ask again */
      }
      if (Date.now() > deadline) throw new Error(`dnsmasq does not serve ${name} = [${addresses.join(', ')}] after SIGHUP within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  return {
    address,
    pid: proc.pid!,
    set,
    remove: (name) => set(name, []),
    log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
