import { BlockList, isIP } from 'node:net';

/** --trust-proxy as configured: nobody, everybody, N hops, or these addresses and CIDRs. */
export type TrustProxySetting = boolean | number | string[];

/** Whether the address `hop` steps away from the gateway (0 = its TCP peer) is a proxy we trust. */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/** The names proxy-addr (Express, Fastify) gives these ranges, which --trust-proxy accepts too. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * One trust predicate for everything that depends on it: Fastify's request.ip (the access log's
 * client) and what the Pod is told in x-forwarded-*. Fastify itself turns a hop count into "trust
 * nobody"; here N means what the flag says, the N nearest hops are proxies, which is right only
 * when nothing can reach the gateway except through them. null = trust nobody.
 */
export function compileTrustProxy(setting: TrustProxySetting): TrustProxyFn | null {
  if (setting === false) return null;
  if (setting === true) return () => true;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  const list = new BlockList();
  for (const item of setting.flatMap((x) => NAMED_RANGES[x] ?? [x])) {
    const slash = item.indexOf('/');
    const address = slash === -1 ? item : item.slice(0, slash);
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (slash === -1) list.addAddress(address, family);
    else list.addSubnet(address, Number(item.slice(slash + 1)), family);
  }
  // BlockList matches an IPv4-mapped IPv6 peer (::ffff:10.0.0.1, a dual-stack listener's view of
  // an IPv4 client) against IPv4 ranges by itself.
  return (address) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Fastify's request.ips (proxy-addr's `all`) for the same predicate, for requests that do not go
 * through Fastify: the TCP peer, then the x-forwarded-for entries from the nearest, up to and
 * including the first address not trusted. undefined when nobody is trusted, as in Fastify.
 */
export function forwardedChain(peer: string | undefined, header: string | string[] | undefined, trust: TrustProxyFn | null): string[] | undefined {
  if (trust === null) return undefined;
  const chain = [peer as string];
  if (typeof header === 'string') {
    const entries = header.split(',');
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!.trim();
      if (entry.length > 0) chain.push(entry);
    }
  }
  for (let i = 0; i < chain.length - 1; i++) {
    if (!trust(chain[i]!, i)) {
      chain.length = i + 1;
      break;
    }
  }
  return chain;
}

/** Who the client is, as far as the gateway can vouch for it, and what the Pod is told. */
export interface ClientView {
  /** The client's address: the TCP peer, or the first address a trusted proxy forwarded for. */
  address: string | undefined;
  /** The Pod's x-forwarded-for: the vouched-for chain, client first, the TCP peer last. */
  forwardedFor: string | undefined;
  /** The Pod's x-forwarded-proto: a trusted proxy's, else the gateway's own scheme. */
  forwardedProto: string;
  /** The TCP peer is a trusted proxy: its other forwarding headers (x-forwarded-host...) pass. */
  trustedPeer: boolean;
}

/** An IPv4 or IPv6 address, possibly with a port (some load balancers append one). */
const ADDRESS_LIKE = /^[0-9A-Fa-f.:[\]]{1,64}$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]{0,15}$/;

/** The last entry of a header a chain of proxies appended to: the one the nearest proxy wrote. */
function lastEntry(value: string): string {
  const comma = value.lastIndexOf(',');
  return (comma === -1 ? value : value.slice(comma + 1)).trim();
}

/**
 * `ips` is Fastify's request.ips for the same predicate: the peer first, then the x-forwarded-for
 * entries from the nearest, up to and including the first one not trusted (proxy-addr's order).
 * Entries past that one were written by whoever the gateway does not trust, so they are dropped
 * rather than passed on: a Pod reading x-forwarded-for from either end gets an address the
 * gateway vouches for.
 */
export function clientView(
  peer: string | undefined,
  encrypted: boolean,
  trust: TrustProxyFn | null,
  forwardedProtoHeader: string | undefined,
  ips: () => readonly string[] | undefined,
): ClientView {
  const ownProto = encrypted ? 'https' : 'http';
  if (trust === null || peer === undefined || !trust(peer, 0)) {
    return { address: peer, forwardedFor: peer, forwardedProto: ownProto, trustedPeer: false };
  }
  const chain = ips() ?? [peer];
  let address = peer;
  let forwardedFor = peer;
  // An entry that is no address at all ends the chain: it can only be noise or an attack passed
  // along by a proxy, and it must not reach the Pod (grpc-js refuses non-ASCII metadata).
  for (let i = 1; i < chain.length && ADDRESS_LIKE.test(chain[i]!); i++) {
    address = chain[i]!;
    forwardedFor = `${address}, ${forwardedFor}`;
  }
  const proto = forwardedProtoHeader === undefined ? '' : lastEntry(forwardedProtoHeader);
  return { address, forwardedFor, forwardedProto: SCHEME.test(proto) ? proto : ownProto, trustedPeer: true };
}
