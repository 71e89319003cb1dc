export { parseResolvConf, readResolvConf, DEFAULT_NAMESERVER, type ResolvConf } from './resolv-conf.js';
export { candidateNames } from './search-names.js';
export {
  queryDns,
  interpretAnswer,
  encodeQuery,
  DnsError,
  type DnsAnswer,
  type DnsRecord,
  type DnsRecordType,
  type DnsErrorCode,
  type QueryOptions,
} from './dns-client.js';
export { sortAddresses } from './address-order.js';
export { DnsResolver, type DnsResolverOptions, type DnsResolverLogger } from './dns-resolver.js';
export { StaticResolver } from './static-resolver.js';
export {
  K8sResolver,
  inClusterAccess,
  kubeconfigAccess,
  type K8sResolverOptions,
  type KubeAccess,
} from './kubernetes/index.js';
