// The store contract Network uses for what the kernel cannot hold: networks, endpoints, address
// allocations, published ports and the nft rules each owns, with intents written first and results
// last, and a change feed for the companion process. Implemented by SqliteStore (the default, one
// host), MemoryNetworkStore (tests) and EtcdNetworkStore (many hosts).
import { NetnsKitError, type NetnsKitErrorCode } from '../errors'
import type { Family } from './ip'
import type { Owner, OwnerState } from './owner'
import type { AddressPool } from './subnet-pool'

export type { Family } from './ip'
export type { Owner, OwnerState } from './owner'

/**
 * A network namespace as the kernel names it: the device and inode of its nsfs file (as
 * `stat -L /proc/PID/ns/net` shows them, decimal text), and a path it was opened by.
 */
export interface NsIdentity {
  dev: string
  ino: string
  /** A path naming it ('/run/netns/NAME', '/proc/PID/ns/net'); not part of its identity. */
  path?: string
}

export type NetworkState = 'creating' | 'ready' | 'removing'
export type EndpointState = 'connecting' | 'connected' | 'disconnecting'
export type PortProtocol = 'tcp' | 'udp' | 'sctp'

/** One address pool of a network. */
export interface PoolRecord {
  family: Family
  /** '172.18.0.0/16'. */
  subnet: string
  /** Never handed out (the bridge's address, or the router of a macvlan network). */
  gateway: string
  /** Automatic allocations come from this prefix inside the subnet (Docker's --ip-range). */
  ipRange?: string
}

/** A pool asked for at creation: a given subnet, or one chosen from address pools. */
export type PoolSpec =
  | { family?: Family; subnet: string; gateway?: string; ipRange?: string }
  | {
      /** Choose the first free subnet of `addressPools` (Docker's default-address-pools). */
      auto: true
      family?: 4
      /** Default DEFAULT_ADDRESS_POOLS. */
      addressPools?: readonly AddressPool[]
      /** Prefixes in use in the host namespace (routes, addresses: prefixesInUse()), read before the transaction. */
      exclude?: readonly string[]
      /** 172.17.0.0/16 is Docker's default bridge: skipped unless this is the default network. */
      allowDefault?: boolean
    }

export interface CreateNetworkSpec {
  /** Random when absent. */
  id?: string
  /** Letters, digits, '_', '.', '-': unique per host namespace. */
  name: string
  /** 'bridge', 'macvlan', 'overlay', ... */
  driver: string
  /** The namespace playing the host; null for a network of every host (an overlay in etcd). */
  host: NsIdentity | null
  pools: PoolSpec[]
  /** The driver's own settings (bridge name, mtu, icc, dns, ...): JSON. */
  config?: Record<string, unknown>
  labels?: Record<string, string>
  /** Default: this process. */
  owner?: Owner
}

export interface NetworkRecord {
  id: string
  name: string
  driver: string
  host: NsIdentity | null
  state: NetworkState
  /** Who holds the intent (`creating`, `removing`); the last one who did, once `ready`. */
  owner: Owner
  pools: PoolRecord[]
  config: Record<string, unknown>
  labels: Record<string, string>
  /** nft rule ids (masquerade, isolation) the network owns. */
  rules: string[]
  /** ISO 8601. */
  created: string
}

/** A port to publish: a given host port, or the first free one of a range (docker -P). */
export interface PortSpec {
  protocol?: PortProtocol
  /** Default the wildcard of `family` ('0.0.0.0' or '::'). */
  hostIp?: string
  family?: Family
  hostPort?: number
  /** For an automatic port: the range to choose from (the host's ip_local_port_range). */
  range?: readonly [number, number]
  /** Ports not to choose (held by host sockets, ip_local_reserved_ports): read before the transaction. */
  exclude?: readonly number[]
  containerPort: number
  /**
   * A mapping without host address on a dual-stack network: the same port claimed on '0.0.0.0'
   * and '::' (two records), free in both families. Only without hostIp and for family 4.
   */
  dualStack?: boolean
}

export interface PortRecord {
  protocol: PortProtocol
  family: Family
  hostIp: string
  hostPort: number
  containerPort: number
}

export interface AddressRecord {
  family: Family
  address: string
  subnet: string
  prefixLength: number
  gateway: string
}

export interface DnsSettings {
  servers?: string[]
  search?: string[]
  options?: string[]
}

export interface EndpointSpec {
  /** Random when absent (12 hex digits). */
  id?: string
  /** Unique in the network, case-insensitive (as DNS). */
  name: string
  aliases?: string[]
  hostname?: string
  /** The container's namespace. */
  ns: NsIdentity
  /** The interface inside the container; absent: the first ethN no other endpoint of `ns` uses and not in `ifnamesInUse`. */
  ifname?: string
  /** Interface names the kernel has in `ns` (read before the transaction), for the automatic ifname. */
  ifnamesInUse?: readonly string[]
  /** The host end (veth) in the host namespace, unique there. */
  hostIf?: string
  /**
   * The host namespace the host end and the published ports live in: default the network's; give
   * it on a network of every host (an overlay), whose ports and host interfaces are per host.
   */
  host?: NsIdentity
  mac?: string
  /** CNI: the attachment is (network, containerId, ifname), unique. */
  containerId?: string
  /** One per family wanted: a given address, or the next free one. */
  addresses: { family: Family; ip?: string }[]
  /**
   * This endpoint may provide the container's default route: the highest priority among the
   * container's endpoints does (the first one on a tie; Docker's --gw-priority). null: never
   * (internal networks). Default 0.
   */
  gatewayPriority?: number | null
  dns?: DnsSettings
  /** `--add-host NAME:IP`. */
  extraHosts?: { name: string; ip: string }[]
  ports?: PortSpec[]
  config?: Record<string, unknown>
  owner?: Owner
}

export interface EndpointRecord {
  id: string
  networkId: string
  name: string
  aliases: string[]
  hostname?: string
  state: EndpointState
  owner: Owner
  ns: NsIdentity
  ifname: string
  hostIf?: string
  mac?: string
  containerId?: string
  addresses: AddressRecord[]
  ports: PortRecord[]
  /** nft rule ids the endpoint owns (its published ports). */
  rules: string[]
  gatewayPriority: number | null
  /** This endpoint provides the container's IPv4 / IPv6 default route. */
  gateway4: boolean
  gateway6: boolean
  dns?: DnsSettings
  extraHosts: { name: string; ip: string }[]
  config: Record<string, unknown>
  created: string
}

/** Endpoints of the same container that must change their default route. */
export interface GatewayMove {
  endpoint: EndpointRecord
  /** The families whose default route this endpoint now provides (added) or stopped providing (removed). */
  family: Family
  provides: boolean
}

export interface ConnectResult {
  endpoint: EndpointRecord
  /** Other endpoints of the container that gave their default route to this one. */
  moves: GatewayMove[]
}

export interface FinishConnectPatch {
  rules?: string[]
  mac?: string
  config?: Record<string, unknown>
}

export type DisconnectStart =
  | { status: 'started'; endpoint: EndpointRecord }
  /** Another live process holds an intent on it (connecting or disconnecting). */
  | { status: 'busy'; endpoint: EndpointRecord }
  | { status: 'absent' }

export interface RemoveStart {
  network: NetworkRecord
  /** Its endpoints, each to disconnect before finishRemoveNetwork (force). */
  endpoints: EndpointRecord[]
}

/** A record in an intermediate state, and what is known of its owner. */
export interface Intent {
  kind: 'network' | 'endpoint'
  id: string
  networkId: string
  state: NetworkState | EndpointState
  owner: Owner
  ownerState: OwnerState
  network?: NetworkRecord
  endpoint?: EndpointRecord
}

/** One record that changed (the latest change per record, in sequence order). */
export interface Change {
  seq: number
  kind: 'network' | 'endpoint'
  id: string
  networkId: string
  /** The record now (undefined once it is gone). */
  network?: NetworkRecord
  endpoint?: EndpointRecord
}

export interface ChangeBatch {
  /** Pass this to the next changesSince(). */
  seq: number
  changes: Change[]
  /** The changes since the given sequence are no longer kept: read the records again. */
  reset: boolean
}

/** Where a rule id belongs. */
export interface RuleOwner {
  networkId: string
  endpointId?: string
}

/**
 * What Network asks of its store. Every multi-step operation records its intent first
 * (begin*), the kernel work happens between, and its result last (finish*), or the intent is
 * undone (abort*). Uniqueness (network names per host namespace, subnets, addresses per
 * network, endpoint names per network case-insensitively, interface names per container,
 * CNI attachments, published host ports per host) holds across every process using the store.
 * Hot-path calls (beginConnect, finishConnect, beginDisconnect, finishDisconnect, endpoint
 * lookups, resolve, changesSince) cost O(log n) in the number of records.
 */
export interface NetworkStore {
  /**
   * Records a network `creating`: its name and subnets (checked for overlap, or chosen) are claimed.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad spec (name, driver, subnet, gateway, ip range, pools).
   * @throws {StoreError} (a NetnsKitError) `ERR_NETNS_KIT_NETWORK_EXISTS` for a name or id in use; `ERR_NETNS_KIT_SUBNET_OVERLAP` for a subnet overlapping another network's; `ERR_NETNS_KIT_POOL_EXHAUSTED` when no candidate subnet is free; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  beginCreateNetwork(spec: CreateNetworkSpec): Promise<NetworkRecord>
  /**
   * `creating` -> `ready`, with the rules made and the final config.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` when it is gone; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  finishCreateNetwork(id: string, patch?: { rules?: string[]; config?: Record<string, unknown> }, owner?: Owner): Promise<NetworkRecord>
  /**
   * Forgets a network still `creating` (its kernel objects undone). Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (a network already gone is not an error); `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  abortCreateNetwork(id: string, owner?: Owner): Promise<void>
  /**
   * -> `removing`; ERR_NETNS_KIT_NETWORK_IN_USE with endpoints unless `force`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` when there is none; `ERR_NETNS_KIT_NETWORK_IN_USE` with endpoints (unless `force`); `ERR_NETNS_KIT_NETWORK_BUSY` while another live process creates or removes it; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  beginRemoveNetwork(id: string, opts?: { force?: boolean; owner?: Owner }): Promise<RemoveStart>
  /**
   * `removing` -> gone (with its pools, allocations, rules); ERR_NETNS_KIT_NETWORK_IN_USE while endpoints remain. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_NETWORK_IN_USE` while endpoints remain; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  finishRemoveNetwork(id: string, owner?: Owner): Promise<void>
  /**
   * The network with this id, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()); none is undefined, not an error.
   */
  network(id: string): Promise<NetworkRecord | undefined>
  /**
   * The network named `name` in the host namespace `host` (null: the scope of every host, as overlay networks), or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `host` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  networkByName(host: NsIdentity | null, name: string): Promise<NetworkRecord | undefined>
  /**
   * Every network (of one host namespace when given). Not a hot path.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `filter.host` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  networks(filter?: { host?: NsIdentity | null }): Promise<NetworkRecord[]>

  /**
   * One transaction: the endpoint `connecting` (name, ifname, CNI key, host interface claimed),
   * its addresses allocated (cursor order), its host ports claimed, its names indexed, and the
   * container's default route given to it when its priority is the highest.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad spec (id, name, namespace identity, ifname, MAC, addresses, ports).
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK`, `ERR_NETNS_KIT_NETWORK_NOT_READY` (creating or removing); `ERR_NETNS_KIT_ENDPOINT_EXISTS` (id, name, or container and ifname taken); `ERR_NETNS_KIT_IFNAME_IN_USE` (the interface or host interface is another endpoint's); `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED` (addresses); `ERR_NETNS_KIT_PORT_ALLOCATED`, `ERR_NETNS_KIT_NO_FREE_PORT` (host ports); `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()). Nothing is recorded then.
   */
  beginConnect(networkId: string, spec: EndpointSpec): Promise<ConnectResult>
  /**
   * `connecting` -> `connected`, with the rules made.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_ENDPOINT` when it is gone; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  finishConnect(id: string, patch?: FinishConnectPatch, owner?: Owner): Promise<EndpointRecord>
  /**
   * Forgets an endpoint still `connecting` (addresses and ports released); returns the default-route moves. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (an endpoint already gone is not an error); `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  abortConnect(id: string, owner?: Owner): Promise<GatewayMove[]>
  /**
   * -> `disconnecting` under this owner (taking over from a dead owner).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()). An endpoint gone is `{ status: 'absent' }`, one a live process holds `{ status: 'busy' }`, not errors.
   */
  beginDisconnect(id: string, owner?: Owner): Promise<DisconnectStart>
  /**
   * -> gone (addresses, ports, names, rules with it); returns the default-route moves. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (an endpoint already gone is not an error); `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  finishDisconnect(id: string, owner?: Owner): Promise<GatewayMove[]>
  /**
   * Records rule ids as soon as the kernel made them (so a crash before finish* leaves them findable).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` or `ERR_NETNS_KIT_NO_ENDPOINT` when the owner is gone; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  addRules(owner: RuleOwner, ruleIds: string[]): Promise<void>
  /**
   * The network or endpoint a rule id was recorded for, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a rule id that is not one.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  ruleOwner(ruleId: string): Promise<RuleOwner | undefined>

  /**
   * The endpoint with this id, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()); none is undefined, not an error.
   */
  endpoint(id: string): Promise<EndpointRecord | undefined>
  /**
   * The endpoint named `name` in the network, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or a bad name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpointByName(networkId: string, name: string): Promise<EndpointRecord | undefined>
  /**
   * The endpoint of a CNI container id and interface name (CNI's key), or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id, or a containerId or ifname that is not a string.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpointByContainer(networkId: string, containerId: string, ifname: string): Promise<EndpointRecord | undefined>
  /**
   * The endpoint whose host interface is `hostIf` in the host namespace `host` (the companion's link-deletion events).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `host` that is not a namespace identity or a `hostIf` that is not a string.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpointByHostIf(host: NsIdentity | null, hostIf: string): Promise<EndpointRecord | undefined>
  /**
   * The endpoint holding `address` in the network, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or an address that is not IPv4 or IPv6.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpointByAddress(networkId: string, address: string): Promise<EndpointRecord | undefined>
  /**
   * The endpoints of a container (several networks).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an `ns` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpointsInNamespace(ns: NsIdentity): Promise<EndpointRecord[]>
  /**
   * Every endpoint of a network. Not a hot path.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  endpoints(networkId: string): Promise<EndpointRecord[]>
  /**
   * Connected endpoints answering to `name` (name, alias or hostname, case-insensitive) in the network.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or a bad name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  resolve(networkId: string, name: string): Promise<EndpointRecord[]>

  /**
   * Every record in an intermediate state (an index, not a scan of all records).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  intents(): Promise<Intent[]>
  /**
   * The intents whose owner is dead (gc's work list); never those of live or foreign owners.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  orphans(): Promise<Intent[]>
  /**
   * Makes `owner` (default this process) the owner of an intent if `from` still holds it; false when someone else took it or it is gone.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id, or a `kind` other than 'network' or 'endpoint'.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()). A record gone, settled or held by another owner is `false`, not an error.
   */
  takeOver(kind: 'network' | 'endpoint', id: string, from: Owner, owner?: Owner): Promise<boolean>

  /**
   * The records changed after `seq` (0: from the start).
   * @throws {TypeError} `ERR_INVALID_ARG_VALUE` for a `seq` that is not an integer >= 0.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()). A `seq` older than the kept log is `reset: true`, not an error.
   */
  changesSince(seq: number): Promise<ChangeBatch>
  /**
   * The current sequence number.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (a backend failure), `ERR_NETNS_KIT_STORE_BUSY` (contention past the transaction timeout, 10 s by default), `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable) or `ERR_NETNS_KIT_CLOSED` (SqliteStore after close()).
   */
  sequence(): Promise<number>
  /**
   * Called (coalesced) soon after any process changed the store: within 100 ms. Returns the unsubscriber.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `listener` is not a function.
   */
  onChange(listener: () => void): () => void

  /**
   * Releases the backend (database, etcd client, watches); the store refuses calls afterwards.
   * @throws Nothing: closing twice is allowed.
   */
  close(): Promise<void>
}

/** A refusal from the store: `code` says which; `network`, `endpoint`, `address`, `port` say what. */
export class StoreError extends NetnsKitError {
  readonly network: string | undefined
  readonly endpoint: string | undefined
  readonly address: string | undefined
  readonly port: number | undefined
  constructor(code: NetnsKitErrorCode, message: string, what: { network?: string; endpoint?: string; address?: string; port?: number } = {}) {
    super(code, message)
    this.name = 'StoreError'
    this.network = what.network
    this.endpoint = what.endpoint
    this.address = what.address
    this.port = what.port
  }
}
