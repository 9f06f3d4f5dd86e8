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
export type { NetnsKitErrorCode } from './errors'
export type {
  LinkInfo,
  AddressInfo,
  RouteSpec,
  RouteInfo,
  MacvlanMode,
  MacvlanInfo,
  VxlanInfo,
  FdbState,
  FdbEntrySpec,
  FdbEntry,
  NeighbourState,
  NeighbourSpec,
  NeighbourEntry,
} from './types'
export { conntrack } from './conntrack'
export type { ConntrackEntry, ConntrackFilter, ConntrackTuple } from './conntrack'
export { NatRule } from './nat'
export type { MasqueradeOptions, PublishOptions, IsolateOptions, NatProtocol, NatKind, Problem } from './nat'
export {
  SqliteStore,
  MemoryStore,
  EtcdStore,
  MemoryNetworkStore,
  EtcdNetworkStore,
  StoreError,
  STATE_DIR,
  DEFAULT_DB_PATH,
  DEFAULT_ADDRESS_POOLS,
  candidateSubnets,
  chooseSubnet,
  findFreeSubnet,
  prefixesInUse,
} from './ipam'
export type {
  NetworkStore,
  SqliteStoreOptions,
  EtcdStoreOptions,
  EtcdNetworkStoreOptions,
  EtcdConnectOptions,
  AddressPool,
  NsIdentity,
  NetworkRecord,
  EndpointRecord,
  NetworkState,
  EndpointState,
  PortRecord,
  AddressRecord,
  Intent,
  Change,
  ChangeBatch,
  Owner,
  OwnerState,
  PoolRecord,
  PortProtocol,
  DnsSettings,
  GatewayMove,
  ConnectResult,
  DisconnectStart,
  RemoveStart,
  RuleOwner,
  EndpointSpec,
  CreateNetworkSpec,
  FinishConnectPatch,
  KvNetworkStoreOptions,
  PoolSpec,
  PortSpec,
} from './ipam'
export type { Family } from './ipam/ip'
export {
  hostsFile,
  hostnameFile,
  resolvConf,
  planResolvConf,
  parseResolvConf,
  EMBEDDED_RESOLVER,
  FALLBACK_NAMESERVERS,
  FALLBACK_NAMESERVERS_V6,
} from './container-files'
export type { HostsFileOptions, ResolvConfOptions, ResolvConfPlan, ResolvConfData } from './container-files'
export { Resolver, DnsRecords } from './dns'
export type { NameSource, ResolverOptions, ResolverStats, UpstreamServer, DnsEntry } from './dns'
export { openUdpSocket, openTcpServer, connectTcp } from './sockets'
export { listSockets, sockDiagSupport, socketOverlaps, socketOwners, describeSocket } from './sock-diag'
export type { SocketFilter, SocketRecord, SocketProtocol, SocketOwner, SockDiagStatus } from './sock-diag'
export { watch } from './watch'
export type { WatchEvent, WatchGroup, WatchOptions, NamespaceWatch, Resync } from './watch'
export type { NativeWatchStats } from './kernel/diag'
export { setLinkGroup, deleteLinkGroup } from './link-group'
export type { NamespaceSocketOptions } from './sockets'
export { Network, Endpoint } from './network'
export type {
  NetworkCreateOptions,
  ConnectOptions,
  PublishSpec,
  GcReport,
  GcOptions,
  AnyNetwork,
  NetworkLookupOptions,
  NetworkEndpoint,
  DriverNetwork,
  NetworkDriverName,
  ConnectOptionsBase,
} from './network'
export { OverlayAgent, OverlayNetwork, OverlayEndpoint, VXLAN_OVERHEAD_IPV4 } from './network'
export type {
  OverlayAgentOptions,
  OverlayEndpointRecord,
  ReconcileReport,
  OverlayNetworkOptions,
  OverlayConnectOptions,
  OverlayNetworkDefinition,
} from './network'
export { MacvlanNetwork, MacvlanEndpoint } from './network'
export type { MacvlanNetworkOptions } from './network'
export type { TripEvent } from './kernel/trace'
export { Companion, COMPANION_CAPABILITIES, stopAllCompanions, companionPaths } from './companion'
export type { CompanionTarget, CompanionConnectOptions, CompanionPaths, HelloResult, PrepareResult, StatusResult } from './companion'
export { writeEtcNetns, removeEtcNetns, ETC_NETNS_DIR, ETC_NETNS_FILES } from './etc-netns'
export type { EtcNetnsFile, EtcNetnsOptions } from './etc-netns'
