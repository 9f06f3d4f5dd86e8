export { DnsRecords, normaliseName } from './records'
export type { DnsEntry } from './records'
export { Resolver, ptrAddress } from './resolver'
export type { NameSource, ResolverOptions, ResolverStats, UpstreamServer } from './resolver'
