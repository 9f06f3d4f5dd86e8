// The keys and documents of KvNetworkStore (lib/ipam/kv-store.ts) in its KvBackend, and its change log.
import type { Family } from './ip'
import type { KvTx } from './kv'
import type { EndpointRecord, NetworkRecord, PortRecord } from './network-store'

export interface NetworkDoc extends NetworkRecord {
  scope: string
}
export interface EndpointDoc extends EndpointRecord {
  nsKey: string
  hostScope: string
  nameKey: string
  names: string[]
}
export interface SubnetEntry {
  networkId: string
  name: string
  family: Family
  first: string
  last: string
  subnet: string
}
export interface PortClaim extends PortRecord {
  endpointId: string
  name: string
}
export interface LogEntry {
  kind: 'network' | 'endpoint'
  id: string
  networkId: string
  deleted: boolean
}

export const k = (...parts: (string | number)[]) => parts.map((p) => encodeURIComponent(String(p))).join('/')
export const K = {
  net: (id: string) => k('n', id),
  netName: (scope: string, name: string) => k('nn', scope, name),
  subnets: (scope: string) => k('sub', scope),
  ep: (id: string) => k('e', id),
  epName: (net: string, key: string) => k('en', net, key),
  names: (net: string, key: string) => `${k('nm', net, key)}/`,
  name: (net: string, key: string, id: string) => k('nm', net, key, id),
  addrs: (net: string, family: Family) => `${k('a', net, family)}/`,
  addr: (net: string, family: Family, hex: string) => k('a', net, family, hex),
  netAddrs: (net: string) => `${k('a', net)}/`,
  cursor: (net: string, family: Family) => k('cur', net, family),
  port: (scope: string, proto: string, port: number) => k('p', scope, proto, String(port).padStart(5, '0')),
  portCursor: (scope: string, proto: string) => k('pc', scope, proto),
  ifname: (ns: string, ifname: string) => k('if', ns, ifname),
  gw: (ns: string, family: Family) => k('gw', ns, family),
  cni: (net: string, cid: string, ifname: string) => k('cni', net, cid, ifname),
  hostIf: (scope: string, hostIf: string) => k('hi', scope, hostIf),
  rule: (id: string) => k('r', id),
  intent: (kind: string, id: string) => k('i', kind, id),
  intents: 'i/',
  netEps: (net: string) => `${k('ne', net)}/`,
  netEp: (net: string, id: string) => k('ne', net, id),
  nsEps: (ns: string) => `${k('ns', ns)}/`,
  nsEp: (ns: string, id: string) => k('ns', ns, id),
  log: (kind: string, id: string) => k('log', kind, id),
  logs: 'log/',
  logFloor: 'meta/logfloor',
}

export const publicNetwork = ({ scope: _s, ...n }: NetworkDoc): NetworkRecord => n
export const publicEndpoint = ({ nsKey: _a, hostScope: _b, nameKey: _c, names: _d, ...e }: EndpointDoc): EndpointRecord => e

/** A change of a record, for changesSince() (deleted: a tombstone). */
export function logChange(tx: KvTx, kind: 'network' | 'endpoint', id: string, networkId: string, deleted = false): void {
  tx.put(K.log(kind, id), { kind, id, networkId, deleted } satisfies LogEntry)
}
