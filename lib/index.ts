/**
 * netns-kit: Docker-grade container networking for Node.js, over rtnetlink and setns from a
 * native addon, with no shelling out.
 */
export { Namespace, NETNS_RUN_DIR } from './namespace'
export type { NamespaceRoutes, NamespaceSysctl } from './namespace'
export { Link } from './link'
export { VethPair } from './veth'
export type { VethPairOptions } from './veth'
export { Bridge } from './bridge'
export type { BridgeOptions } from './bridge'
export { conntrack } from './conntrack'
export type { ConntrackEntry, ConntrackFilter, ConntrackTuple } from './conntrack'
export { NetlinkError, NetnsKitError, PrivilegeError } from './errors'
export type { LinkInfo, AddressInfo, RouteSpec, RouteInfo } from './types'
export { Ipam, IpamError, FileStore, MemoryStore, STATE_DIR, DEFAULT_ADDRESS_POOLS, candidateSubnets, chooseSubnet, findFreeSubnet, prefixesInUse } from './ipam'
export type { Allocation, IpamNetwork, IpamNetworkOptions, IpamPool, IpamPoolOptions, FileStoreOptions, IpamStore, StoreEntry, Mutation, AddressPool } from './ipam'
export { hostsFile, hostnameFile, resolvConf, planResolvConf, parseResolvConf, EMBEDDED_RESOLVER, FALLBACK_NAMESERVERS, FALLBACK_NAMESERVERS_V6 } from './container-files'
export type { HostsFileOptions, ResolvConfOptions, ResolvConfPlan, ResolvConfData } from './container-files'
export { Resolver, DnsRecords } from './dns'
export type { ResolverOptions, ResolverStats, UpstreamServer, DnsEntry } from './dns'
export { openUdpSocket, openTcpServer, connectTcp } from './sockets'
export type { NamespaceSocketOptions } from './sockets'
