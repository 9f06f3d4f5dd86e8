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
export { NatRule } from './natrule'
export type { MasqueradeOptions, PublishOptions, IsolateOptions, NatProtocol } from './natrule'
export { NetlinkError, NetnsKitError, PrivilegeError } from './errors'
export type { LinkInfo, AddressInfo, RouteSpec, RouteInfo } from './types'
