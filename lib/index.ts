/**
 * netns-kit: Docker-grade container networking for Node.js, over rtnetlink and setns from a
 * native addon, with no shelling out.
 */
export { Namespace, NETNS_RUN_DIR } from './namespace'
export type { NamespaceRoutes, NamespaceSysctl } from './namespace'
export type { NamespaceNeighbours } from './neighbour'
export { Link } from './link'
export type { LinkFdb } from './fdb'
export { VethPair } from './veth'
export type { VethPairOptions } from './veth'
export { Bridge } from './bridge'
export type { BridgeOptions } from './bridge'
export { Macvlan } from './macvlan'
export type { MacvlanOptions } from './macvlan'
export { Vxlan } from './vxlan'
export type { VxlanOptions } from './vxlan'
export { NetlinkError, NetnsKitError, PrivilegeError } from './errors'
export type {
  LinkInfo, AddressInfo, RouteSpec, RouteInfo, MacvlanMode, MacvlanInfo, VxlanInfo, FdbState, FdbEntrySpec, FdbEntry,
  NeighbourState, NeighbourSpec, NeighbourEntry,
} from './types'
