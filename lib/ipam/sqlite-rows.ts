// Rows of the SQLite schema as the contract's records, read inside a transaction of SqliteStore.
import type BetterSqlite3 from 'better-sqlite3'
import type { Family } from './ip'
import type { Owner } from './owner'
import type { EndpointRecord, NetworkRecord, PoolRecord } from './network-store'
import { prefixLengthOf } from './store-logic'

/** A prepared statement by its SQL text (cached by the store). */
export type St = (sql: string) => BetterSqlite3.Statement
export type Row = Record<string, unknown>

export const ownerOf = (r: Row, p = 'owner_'): Owner => ({ pid: Number(r[`${p}pid`]), start: String(r[`${p}start`]), boot: String(r[`${p}boot`]) })

export function poolsOf(st: St, networkId: string): PoolRecord[] {
  return (st('SELECT family, subnet, gateway, ip_range FROM pools WHERE network_id = ? ORDER BY family').all(networkId) as Row[]).map((p) => {
    const r: PoolRecord = { family: Number(p.family) as Family, subnet: String(p.subnet), gateway: String(p.gateway) }
    if (p.ip_range !== null) r.ipRange = String(p.ip_range)
    return r
  })
}

export function networkOf(st: St, r: Row): NetworkRecord {
  const id = String(r.id)
  return {
    id,
    name: String(r.name),
    driver: String(r.driver),
    host: r.host_dev === null ? null : { dev: String(r.host_dev), ino: String(r.host_ino), ...(r.host_path !== null ? { path: String(r.host_path) } : {}) },
    state: r.state as NetworkRecord['state'],
    owner: ownerOf(r),
    pools: poolsOf(st, id),
    config: JSON.parse(String(r.config)) as Record<string, unknown>,
    labels: JSON.parse(String(r.labels)) as Record<string, string>,
    rules: st('SELECT rule_id FROM rules WHERE network_id = ? AND endpoint_id IS NULL ORDER BY rule_id').pluck().all(id) as string[],
    created: String(r.created),
  }
}

export function networkById(st: St, id: string): NetworkRecord | undefined {
  const r = st('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined
  return r && networkOf(st, r)
}

export function endpointOf(st: St, r: Row): EndpointRecord {
  const id = String(r.id)
  const addresses = (
    st(`SELECT a.family, a.address, p.subnet, p.gateway FROM allocations a
    JOIN pools p ON p.network_id = a.network_id AND p.family = a.family WHERE a.endpoint_id = ? ORDER BY a.family`).all(id) as Row[]
  ).map((a) => ({
    family: Number(a.family) as Family,
    address: String(a.address),
    subnet: String(a.subnet),
    prefixLength: prefixLengthOf(String(a.subnet)),
    gateway: String(a.gateway),
  }))
  const ports = (
    st('SELECT protocol, family, host_ip, host_port, container_port FROM ports WHERE endpoint_id = ? ORDER BY protocol, host_port, host_ip').all(id) as Row[]
  ).map((p) => ({
    protocol: p.protocol as 'tcp',
    family: Number(p.family) as Family,
    hostIp: String(p.host_ip),
    hostPort: Number(p.host_port),
    containerPort: Number(p.container_port),
  }))
  const e: EndpointRecord = {
    id,
    networkId: String(r.network_id),
    name: String(r.name),
    aliases: JSON.parse(String(r.aliases)) as string[],
    state: r.state as EndpointRecord['state'],
    owner: ownerOf(r),
    ns: { dev: String(r.ns_dev), ino: String(r.ns_ino), ...(r.ns_path !== null ? { path: String(r.ns_path) } : {}) },
    ifname: String(r.ifname),
    addresses,
    ports,
    rules: st('SELECT rule_id FROM rules WHERE endpoint_id = ? ORDER BY rule_id').pluck().all(id) as string[],
    gatewayPriority: r.gw_priority === null ? null : Number(r.gw_priority),
    gateway4: r.gw4 === 1,
    gateway6: r.gw6 === 1,
    extraHosts: JSON.parse(String(r.extra_hosts)) as { name: string; ip: string }[],
    config: JSON.parse(String(r.config)) as Record<string, unknown>,
    created: String(r.created),
  }
  if (r.hostname !== null) e.hostname = String(r.hostname)
  if (r.host_if !== null) e.hostIf = String(r.host_if)
  if (r.mac !== null) e.mac = String(r.mac)
  if (r.container_id !== null) e.containerId = String(r.container_id)
  if (r.dns !== null) e.dns = JSON.parse(String(r.dns)) as EndpointRecord['dns']
  return e
}

export function endpointById(st: St, id: string): EndpointRecord | undefined {
  const r = st('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined
  return r && endpointOf(st, r)
}

/** The columns named by a constraint failure ('endpoints.network_id, endpoints.name_key'; partial indexes name their columns too). */
export function constraintOf(e: unknown): string | undefined {
  const code = String((e as { code?: string })?.code ?? '')
  if (!code.startsWith('SQLITE_CONSTRAINT')) return undefined
  const m = /constraint failed: (.*)$/.exec((e as Error).message)
  return m ? m[1] : code
}
