export { DnsRecords, normaliseName } from './records'
export type { DnsEntry, NameSource } from './records'
export { Resolver, ptrAddress } from './resolver'
export type { ResolverOptions, ResolverStats, UpstreamServer } from './resolver'
