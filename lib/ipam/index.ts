// Addresses and the state store: the NetworkStore contract and its three implementations, the
// pools, and the choice of a free subnet.
export { checkNetworkName, makePool } from './pool'
export type { PoolDefinition, PoolOptions } from './pool'
export { DEFAULT_ADDRESS_POOLS, candidateSubnets, chooseSubnet, findFreeSubnet, prefixesInUse } from './subnet-pool'
export type { AddressPool } from './subnet-pool'
export { SqliteStore, DEFAULT_DB_PATH, STATE_DIR } from './sqlite-store'
export type { SqliteStoreOptions } from './sqlite-store'
export { MemoryNetworkStore, MemoryNetworkStore as MemoryStore } from './memory-network-store'
export { EtcdNetworkStore, EtcdNetworkStore as EtcdStore } from './etcd-network-store'
export type { EtcdNetworkStoreOptions, EtcdNetworkStoreOptions as EtcdStoreOptions } from './etcd-network-store'
export type { EtcdConnectOptions } from './etcd-client'
export type { KvNetworkStoreOptions } from './kv-store'
export { StoreError } from './network-store'
export type {
  NetworkStore,
  NsIdentity,
  NetworkRecord,
  NetworkState,
  EndpointRecord,
  EndpointState,
  EndpointSpec,
  CreateNetworkSpec,
  PoolSpec,
  PoolRecord,
  PortSpec,
  PortRecord,
  PortProtocol,
  AddressRecord,
  DnsSettings,
  GatewayMove,
  ConnectResult,
  FinishConnectPatch,
  DisconnectStart,
  RemoveStart,
  Intent,
  Change,
  ChangeBatch,
  RuleOwner,
} from './network-store'
export { currentOwner, ownerState, processStartTime, bootId } from './owner'
export type { Owner, OwnerState } from './owner'
