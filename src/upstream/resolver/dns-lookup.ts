// One round of DNS lookups for DnsResolver (./dns-resolver.ts, whose header says what a round
// decides): resolv.conf read, each address family looked up on its own over the candidate names
// and the servers in order, and each family's outcome for the name that won.
import type { HostPort } from '../../config/types.js';
import { queryDns, DnsError, type DnsAnswer, type DnsRecord, type DnsRecordType } from './dns-client.js';
import { readResolvConf } from './resolv-conf.js';
import { candidateNames } from './search-names.js';

/** What a round asks, and of whom. */
export interface RoundQuery {
  /** The Service name as configured. */
  name: string;
  /** Empty: the nameservers of resolv.conf. */
  servers: HostPort[];
  resolvConfPath: string | undefined;
  queryTimeoutMs: number;
  /** The record types asked, in the order of the round's outcomes. */
  types: readonly DnsRecordType[];
}

/** What one family's lookup came to, for the name that won the round. */
export type FamilyOutcome = { kind: 'records'; records: DnsRecord[] } | { kind: 'empty' } | { kind: 'failed'; error: string };

/** One family's walk over the candidate names. */
interface FamilyLookup {
  /** Index of the first candidate name with a record of this family; -1: none had one. */
  found: number;
  records: DnsRecord[];
  /** Per candidate name asked: why no server answered it, or undefined when one did. */
  failures: Array<string | undefined>;
}

export type RoundResult =
  /** At least one family answered; outcomes in the order of DnsResolver.families. */
  | { kind: 'answered'; name: string | undefined; outcomes: FamilyOutcome[] }
  | { kind: 'failed'; error: Error };

/** A server-level problem: try the next server. `reachable`: it answered, with an error rcode. */
class ServerFailure extends Error {
  constructor(message: string, readonly server: HostPort, readonly reachable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerFailure';
  }
}

export async function lookupRound(q: RoundQuery, signal: AbortSignal): Promise<RoundResult> {
  const conf = await readResolvConf(q.resolvConfPath);
  const servers = q.servers.length > 0 ? q.servers : conf.nameservers;
  const names = candidateNames(q.name, conf.search, conf.ndots);
  if (names.length === 0) return { kind: 'failed', error: new Error(`no name to resolve for "${q.name}"`) };
  const lookups = await Promise.all(q.types.map((type) => lookupFamily(q, type, servers, names, signal)));
  if (signal.aborted) return { kind: 'failed', error: new DnsError('EABORTED', 'resolver stopped') };
  let best = -1;
  for (const l of lookups) if (l.found >= 0 && (best < 0 || l.found < best)) best = l.found;
  const outcomes = lookups.map((l) => outcomeFor(l, best));
  if (outcomes.every((o) => o.kind === 'failed')) {
    const why = outcomes.map((o, i) => `${q.types[i]}: ${(o as { error: string }).error}`).join('; ');
    return { kind: 'failed', error: new Error(`DNS lookup of ${q.name} failed for every address family: ${why}`) };
  }
  return { kind: 'answered', name: best >= 0 ? names[best] : undefined, outcomes };
}

/** One family: the candidate names in order, each on the servers in order, until one has a record. */
async function lookupFamily(
q: RoundQuery,
type: DnsRecordType,
servers: HostPort[],
names: string[],
signal: AbortSignal,
): Promise<FamilyLookup> {
  const unreachable = new Set<HostPort>();
  const failures: Array<string | undefined> = [];
  for (let i = 0; i < names.length && !signal.aborted; i++) {
    const name = names[i]!;
    const errors: string[] = [];
    let answer: DnsAnswer | undefined;
    for (const server of servers) {
      if (unreachable.has(server)) continue;
      if (signal.aborted) break;
      try {
        answer = await ask(q, server, name, type, signal);
        break;
      } catch (err) {
        errors.push((err as Error).message);
        if (err instanceof ServerFailure && !err.reachable) unreachable.add(server);
      }
    }
    if (answer === undefined) {
      failures.push(errors.length > 0 ? errors.join('; ') : `${type} ${name}: no DNS server left to ask (unreachable this round)`);
      continue;
    }
    failures.push(undefined);
    if (answer.records.length > 0) return { found: i, records: answer.records, failures };
  }
  return { found: -1, records: [], failures };
}

/** One question; anything but NOERROR/NXDOMAIN is a server failure. */
async function ask(q: RoundQuery, server: HostPort, name: string, type: DnsRecordType, signal: AbortSignal): Promise<DnsAnswer> {
  let answer: DnsAnswer;
  try {
    answer = await queryDns(server, name, type, { timeoutMs: q.queryTimeoutMs, signal, unref: true });
  } catch (err) {
    throw new ServerFailure((err as Error).message, server, false, { cause: err });
  }
  if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') {
    throw new ServerFailure(`${answer.rcode} for ${type} ${name} from ${server.host}:${server.port}`, server, true);
  }
  if (answer.truncated) {
    throw new ServerFailure(`truncated answer for ${type} ${name} from ${server.host}:${server.port}`, server, true);
  }
  return answer;
}

/**
 * A family's outcome for the winning name (index `best`), or, when no name had any record
 * (best = -1), over all names: empty only if every name was answered.
 */
function outcomeFor(l: FamilyLookup, best: number): FamilyOutcome {
  if (best >= 0) {
    if (l.found === best) return { kind: 'records', records: l.records };
    const error = l.failures[best];
    return error === undefined ? { kind: 'empty' } : { kind: 'failed', error };
  }
  const errors = l.failures.filter((e): e is string => e !== undefined);
  return errors.length > 0 ? { kind: 'failed', error: errors.join('; ') } : { kind: 'empty' };
}
