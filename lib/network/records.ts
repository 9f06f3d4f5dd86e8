// What the kernel cannot hold about networks and endpoints, kept in the state store next to IPAM's
// records. Everything in lib/network reads and writes records through NetworkRecords and
// nothing else, so another store (SQLite) replaces this one module.
import * as fs from 'node:fs'
import { NetnsKitError } from '../errors'
import { updateRecord, type IpamStore } from '../ipam'
import { handleOf } from '../kernel/handles'
import type { Namespace } from '../namespace'

/** A namespace as a record names it: its path, and the device and inode of its file. */
export interface NsIdentity { path: string; dev: string; ino: string }

/** A bridge network (records written before drivers existed have no `driver`). */
export interface BridgeNetworkRecord {
  driver?: 'bridge'
  name: string
  /** The IPAM network id: a network created again under the same name is another network. */
  id: string
  bridge: string
  subnet: string
  gateway: string
  ipRange?: string
  ipv6?: { subnet: string; gateway: string }
  mtu?: number
  masquerade: boolean
  icc: boolean
  internal: boolean
  dns: boolean
  upstream?: string[]
  host: NsIdentity
  /** NatRule ids (masquerade, isolation) this network owns. */
  rules: string[]
  created: string
}

/** A macvlan network: its parent device, in the namespace `host`. */
export interface MacvlanNetworkRecord {
  driver: 'macvlan'
  name: string
  id: string
  parent: string
  mode: 'bridge' | 'private' | 'vepa' | 'passthru'
  subnet: string
  gateway: string
  ipRange?: string
  host: NsIdentity
  created: string
}

export type NetworkRecord = BridgeNetworkRecord | MacvlanNetworkRecord

export interface PortRecord { protocol: string; hostIp: string; hostPort: number; containerPort: number }

/** An endpoint of a bridge network. */
export interface EndpointRecord {
  id: string
  network: string
  networkId: string
  name: string
  ip: string
  ip6?: string
  mac: string
  ifname: string
  /** The host end of its veth (field name kept from the first records). */
  hostIf: string
  aliases: string[]
  hostname?: string
  ns: NsIdentity
  /** 'connecting' until every step took effect; `pid` is the process doing it. */
  state: 'connecting' | 'connected'
  pid: number
  ports: PortRecord[]
  /** NatRule ids of the published ports. */
  rules: string[]
}

/** The records of networks and their endpoints in one store. */
export interface NetworkRecords {
  getNetwork(name: string): Promise<NetworkRecord | undefined>
  listNetworks(): Promise<NetworkRecord[]>
  /** Writes a new network's record; ERR_NETNS_KIT_NETWORK_EXISTS when the name is taken. */
  createNetwork(rec: NetworkRecord): Promise<void>
  /** Writes the record, whether one of that name exists or not. */
  putNetwork(rec: NetworkRecord): Promise<void>
  deleteNetwork(name: string): Promise<void>
  getEndpoint(network: string, id: string): Promise<EndpointRecord | undefined>
  listEndpoints(network: string): Promise<EndpointRecord[]>
  putEndpoint(rec: EndpointRecord): Promise<void>
  deleteEndpoint(network: string, id: string): Promise<void>
}

const netKey = (name: string) => `network.${name}`
const epPrefix = (name: string) => `endpoint.${name}.`
const epKey = (name: string, id: string) => `endpoint.${name}.${id}`

/** The records kept in `store` (keys `network.NAME` and `endpoint.NAME.ID`). */
export function recordsIn(store: IpamStore): NetworkRecords {
  const remove = (key: string) => updateRecord(store, key, (cur) => (cur ? { result: undefined, delete: true } : { result: undefined }))
  const put = (key: string, value: unknown) => updateRecord(store, key, () => ({ result: undefined, set: value }))
  return {
    getNetwork: async (name) => (await store.get(netKey(name)))?.value as NetworkRecord | undefined,
    listNetworks: async () => (await store.list('network.')).map((e) => e.value as NetworkRecord),
    createNetwork: (rec) => updateRecord(store, netKey(rec.name), (cur) => {
      if (cur) throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${rec.name}' exists`)
      return { result: undefined, set: rec }
    }),
    putNetwork: (rec) => put(netKey(rec.name), rec),
    deleteNetwork: (name) => remove(netKey(name)),
    getEndpoint: async (network, id) => (await store.get(epKey(network, id)))?.value as EndpointRecord | undefined,
    listEndpoints: async (network) => (await store.list(epPrefix(network))).map((e) => e.value as EndpointRecord),
    putEndpoint: (rec) => put(epKey(rec.network, rec.id), rec),
    deleteEndpoint: (network, id) => remove(epKey(network, id)),
  }
}

/** The driver of a network record. */
export function driverOf(rec: NetworkRecord): 'bridge' | 'macvlan' {
  return rec.driver ?? 'bridge'
}

/** How records name `ns` (refused for a closed or deleted namespace). */
export function identity(ns: Namespace): NsIdentity {
  const h = handleOf(ns)
  return { path: ns.path, dev: String(h.dev), ino: String(h.ino) }
}

export function sameNs(a: NsIdentity, ns: Namespace): boolean {
  const h = handleOf(ns)
  return a.dev === String(h.dev) && a.ino === String(h.ino)
}

/** The namespace recorded is still there: its path exists and names the same inode. */
export function nsAlive(n: NsIdentity): boolean {
  try {
    const st = fs.statSync(n.path, { bigint: true })
    return String(st.ino) === n.ino && String(st.dev) === n.dev
  } catch {
    return false
  }
}
