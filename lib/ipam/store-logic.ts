// What every NetworkStore does the same way, without I/O: validating specs, the pools' address
// arithmetic, the cursor scan for a free address, the automatic subnet, port conflicts and the
// choice of the endpoint that provides a container's default route.
import { randomBytes, randomUUID } from 'node:crypto'
import { invalidArg, outOfRange } from '../errors'
import { checkIp, checkMac } from '../validate'
import { contains, formatIp, formatPrefix, lastOf, parseIp, parsePrefix, overlaps, type Family, type Ip, type Prefix } from './ip'
import { checkNetworkName, makePool } from './pool'
import { checkOwner, currentOwner, type Owner } from './owner'
import { DEFAULT_ADDRESS_POOLS, candidateSubnets } from './subnet-pool'
import {
  StoreError,
  type CreateNetworkSpec,
  type DnsSettings,
  type EndpointSpec,
  type NsIdentity,
  type PoolRecord,
  type PortProtocol,
  type PortSpec,
} from './network-store'

/** Docker's default bridge network: automatic subnets skip it (issue 13). */
export const DEFAULT_BRIDGE_SUBNET = '172.17.0.0/16'

/** An address as 32 hex digits: text that sorts as the number does (both families). */
export function hexOf(v: bigint): string {
  return v.toString(16).padStart(32, '0')
}

export function fromHex(h: string): bigint {
  return BigInt(`0x${h}`)
}

function checkDecimal(v: unknown, arg: string): string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return String(v)
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) return v
  throw invalidArg(arg, v, 'must be a decimal number (a device or inode number)')
}

export function checkNs(ns: unknown, arg: string): NsIdentity {
  const n = ns as NsIdentity
  if (!n || typeof n !== 'object') throw invalidArg(arg, ns, 'must be an object { dev, ino, path? }', 'ERR_INVALID_ARG_TYPE')
  const out: NsIdentity = { dev: checkDecimal(n.dev, `${arg}.dev`), ino: checkDecimal(n.ino, `${arg}.ino`) }
  if (n.path !== undefined) {
    if (typeof n.path !== 'string' || !n.path.startsWith('/') || n.path.length > 4096 || n.path.includes('\0'))
      throw invalidArg(`${arg}.path`, n.path, 'must be an absolute path')
    out.path = n.path
  }
  return out
}

/** The key of a namespace in the store: 'DEV:INO' (prefixed by a host id in a store shared by hosts). */
export function nsKey(ns: NsIdentity, hostId = ''): string {
  return `${hostId}${ns.dev}:${ns.ino}`
}

/** The scope a network's name and subnets are unique in: its host namespace, or '*' for every host. */
export function scopeOf(host: NsIdentity | null, hostId = ''): string {
  return host === null ? '*' : nsKey(host, hostId)
}

export function checkId(id: unknown, arg: string): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) throw invalidArg(arg, id, "must be 1 to 128 letters, digits, '_', '.', '-'")
  return id
}

function checkJsonObject(v: unknown, arg: string): Record<string, unknown> {
  if (v === undefined) return {}
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalidArg(arg, v, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const text = JSON.stringify(v)
  if (text.length > 65536) throw invalidArg(arg, '(object)', 'must be at most 64 KiB as JSON')
  return JSON.parse(text) as Record<string, unknown>
}

function checkLabels(v: unknown): Record<string, string> {
  const o = checkJsonObject(v, 'spec.labels')
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw invalidArg(`spec.labels.${k}`, x, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  return o as Record<string, string>
}

/** A name (endpoint name, alias, hostname): 1 to 253 printable characters; matched case-insensitively. */
export function checkRecordName(v: unknown, arg: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 253 || /[\0-\x20\x7f]/.test(v))
    throw invalidArg(arg, v, 'must be 1 to 253 printable characters without spaces')
  return v
}

/** Names compare as DNS does: ASCII case folded. */
export function nameKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

function checkIfnameLike(v: unknown, arg: string): string {
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > 15 || /[\s/:\0]/.test(v) || v === '.' || v === '..') {
    throw invalidArg(arg, v, "must be an interface name: 1 to 15 bytes, no '/', ':' or spaces")
  }
  return v
}

export interface NormalNetwork {
  id: string
  name: string
  driver: string
  host: NsIdentity | null
  pools: PoolSpec2[]
  config: Record<string, unknown>
  labels: Record<string, string>
  owner: Owner
  created: string
}

/** A pool spec after validation: a definition, or an automatic IPv4 choice. */
export type PoolSpec2 = { def: PoolRecord } | { auto: { candidates: string[]; exclude: Prefix[] } }

export function normaliseNetworkSpec(spec: CreateNetworkSpec): NormalNetwork {
  if (!spec || typeof spec !== 'object') throw invalidArg('spec', spec, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const name = checkNetworkName(spec.name, 'spec.name')
  if (typeof spec.driver !== 'string' || !/^[a-z][a-z0-9_-]{0,31}$/.test(spec.driver)) throw invalidArg('spec.driver', spec.driver, 'must be a driver name')
  const host = spec.host === null ? null : checkNs(spec.host, 'spec.host')
  if (!Array.isArray(spec.pools) || spec.pools.length === 0)
    throw invalidArg('spec.pools', spec.pools, 'must be an array of one or two pools', 'ERR_INVALID_ARG_TYPE')
  const pools: PoolSpec2[] = spec.pools.map((p, i) => {
    const arg = `spec.pools[${i}]`
    if (!p || typeof p !== 'object') throw invalidArg(arg, p, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    if ('auto' in p && p.auto) {
      const pools = p.addressPools ?? DEFAULT_ADDRESS_POOLS
      const exclude = (p.exclude ?? []).map((x, j) => parsePrefix(x, `${arg}.exclude[${j}]`, false)).filter((x) => x.prefixLength > 0)
      const dflt = parsePrefix(DEFAULT_BRIDGE_SUBNET)
      const candidates = [...candidateSubnets(pools)].filter((c) => p.allowDefault === true || !overlaps(parsePrefix(c), dflt))
      if (candidates.some((c) => parsePrefix(c).family !== 4)) throw invalidArg(`${arg}.addressPools`, pools, 'must be IPv4 pools')
      return { auto: { candidates, exclude } }
    }
    const q = p as { family?: Family; subnet: string; gateway?: string; ipRange?: string }
    const def = makePool({ subnet: q.subnet, gateway: q.gateway, ipRange: q.ipRange }, arg, q.family)
    return { def: def.ipRange === undefined ? { family: def.family, subnet: def.subnet, gateway: def.gateway } : def }
  })
  const fam = (p: PoolSpec2) => ('def' in p ? p.def.family : 4)
  if (pools.filter((p) => fam(p) === 4).length > 1 || pools.filter((p) => fam(p) === 6).length > 1)
    throw invalidArg('spec.pools', spec.pools, 'gives two pools of one family')
  return {
    id: spec.id === undefined ? randomUUID() : checkId(spec.id, 'spec.id'),
    name,
    driver: spec.driver,
    host,
    pools,
    config: checkJsonObject(spec.config, 'spec.config'),
    labels: checkLabels(spec.labels),
    owner: spec.owner === undefined ? currentOwner() : checkOwner(spec.owner, 'spec.owner'),
    created: new Date().toISOString(),
  }
}

/**
 * The automatic subnet: the first candidate overlapping no excluded prefix and no subnet the
 * store has (`taken` answers that from the store, inside the transaction).
 */
export function chooseSubnet(auto: { candidates: string[]; exclude: Prefix[] }, taken: (p: Prefix) => boolean): string | undefined {
  for (const c of auto.candidates) {
    const p = parsePrefix(c)
    if (auto.exclude.some((x) => overlaps(x, p))) continue
    if (!taken(p)) return c
  }
  return undefined
}

/** A pool with its numbers. */
export interface Pool {
  def: PoolRecord
  subnet: Prefix
  first: bigint
  last: bigint
  rangeFirst: bigint
  rangeLast: bigint
  gateway: bigint
}

export function poolOf(def: PoolRecord): Pool {
  const subnet = parsePrefix(def.subnet)
  const range = def.ipRange ? parsePrefix(def.ipRange) : subnet
  return { def, subnet, first: subnet.network, last: lastOf(subnet), rangeFirst: range.network, rangeLast: lastOf(range), gateway: parseIp(def.gateway).value }
}

/** The network address, the IPv4 broadcast address and the gateway are never handed out. */
export function isReserved(p: Pool, v: bigint): boolean {
  return v === p.first || v === p.gateway || (p.def.family === 4 && v === p.last)
}

export function subnetConflict(p: Prefix, name: string, other: string, otherSubnet: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_SUBNET_OVERLAP', `the subnet ${formatPrefix(p)} overlaps ${otherSubnet} of the network '${other}'`, { network: name })
}

/** Checks a requested address against a pool; returns its canonical text. */
export function checkRequested(pool: Pool, ip: Ip, network: string): string {
  const address = formatIp(ip)
  if (!contains(pool.subnet, ip))
    throw new StoreError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `${address} is outside the subnet ${pool.def.subnet} of the network '${network}'`, {
      network,
      address,
    })
  if (isReserved(pool, ip.value)) {
    const what = ip.value === pool.gateway ? 'the gateway' : ip.value === pool.first ? 'the network address' : 'the broadcast address'
    throw new StoreError('ERR_NETNS_KIT_IP_RESERVED', `${address} is ${what} of the network '${network}'`, { network, address })
  }
  return address
}

export function exhausted(pool: Pool, network: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_POOL_EXHAUSTED', `no free address left in ${pool.def.ipRange ?? pool.def.subnet} of the network '${network}'`, {
    network,
  })
}

/**
 * The segments to scan for a free address, in cursor order: after the last one handed out to
 * the end of the range, then from the start of the range to the cursor (netavark's and
 * host-local's order: a released address comes back last).
 */
export function scanSegments(pool: Pool, cursor: bigint | undefined): [bigint, bigint][] {
  const { rangeFirst: lo, rangeLast: hi } = pool
  if (cursor === undefined || cursor < lo || cursor >= hi) return [[lo, hi]]
  return [
    [cursor + 1n, hi],
    [lo, cursor],
  ]
}

/**
 * The first free address of [lo, hi] given the allocated ones of that segment in ascending order
 * (an index range scan, stopped at the first gap): O(allocated run after lo), never O(range).
 */
export function firstFree(pool: Pool, lo: bigint, hi: bigint, taken: Iterable<bigint>): bigint | undefined {
  let c = lo
  const skip = () => {
    while (c <= hi && isReserved(pool, c)) c++
  }
  skip()
  for (const t of taken) {
    if (c > hi) return undefined
    if (t < c) continue
    if (t > c) return c
    c++
    skip()
  }
  return c <= hi ? c : undefined
}

/** firstFree over an asynchronous ascending sequence (a store read page by page). */
export async function firstFreeAsync(pool: Pool, lo: bigint, hi: bigint, taken: AsyncIterable<bigint>): Promise<bigint | undefined> {
  let c = lo
  const skip = () => {
    while (c <= hi && isReserved(pool, c)) c++
  }
  skip()
  for await (const t of taken) {
    if (c > hi) return undefined
    if (t < c) continue
    if (t > c) return c
    c++
    skip()
  }
  return c <= hi ? c : undefined
}

export interface NormalPort {
  protocol: PortProtocol
  family: Family
  hostIp: string
  hostPort?: number
  range: [number, number]
  exclude: Set<number>
  containerPort: number
  /** Also claims the port on '::' (PortSpec.dualStack). */
  dualStack: boolean
}

/** The claims a port spec makes: its own, and the IPv6 wildcard's with dualStack. */
export function claimsOf(p: NormalPort): NormalPort[] {
  return p.dualStack
    ? [
        { ...p, dualStack: false },
        { ...p, family: 6, hostIp: WILDCARD[6], dualStack: false },
      ]
    : [p]
}

export interface NormalEndpoint {
  id: string
  name: string
  nameKey: string
  aliases: string[]
  hostname?: string
  /** Every name the endpoint answers to, lower case, once each. */
  names: string[]
  ns: NsIdentity
  ifname?: string
  ifnamesInUse: Set<string>
  hostIf?: string
  host?: NsIdentity
  mac?: string
  containerId?: string
  addresses: { family: Family; ip?: Ip }[]
  gatewayPriority: number | null
  dns?: DnsSettings
  extraHosts: { name: string; ip: string }[]
  ports: NormalPort[]
  config: Record<string, unknown>
  owner: Owner
  created: string
}

function checkPortNumber(v: unknown, arg: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw outOfRange(arg, 'an integer from 1 to 65535', v)
  return v
}

function checkStrings(v: unknown, arg: string, check: (s: string, a: string) => void): string[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.length > 64) throw invalidArg(arg, v, 'must be an array (at most 64)', 'ERR_INVALID_ARG_TYPE')
  return v.map((s, i) => {
    if (typeof s !== 'string') throw invalidArg(`${arg}[${i}]`, s, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    check(s, `${arg}[${i}]`)
    return s
  })
}

export const WILDCARD: Record<Family, string> = { 4: '0.0.0.0', 6: '::' }

export function normalisePort(p: PortSpec, arg: string): NormalPort {
  if (!p || typeof p !== 'object') throw invalidArg(arg, p, 'must be an object { protocol?, hostIp?, hostPort?, containerPort }', 'ERR_INVALID_ARG_TYPE')
  const protocol = p.protocol ?? 'tcp'
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalidArg(`${arg}.protocol`, p.protocol, "must be 'tcp', 'udp' or 'sctp'")
  let family: Family
  let hostIp: string
  if (p.hostIp !== undefined) {
    const ip = parseIp(p.hostIp, `${arg}.hostIp`)
    if (p.family !== undefined && p.family !== ip.family) throw invalidArg(`${arg}.hostIp`, p.hostIp, `is not an IPv${p.family} address`)
    family = ip.family
    hostIp = formatIp(ip)
  } else {
    if (p.family !== undefined && p.family !== 4 && p.family !== 6) throw invalidArg(`${arg}.family`, p.family, 'must be 4 or 6')
    family = p.family ?? 4
    hostIp = WILDCARD[family]
  }
  const containerPort = checkPortNumber(p.containerPort, `${arg}.containerPort`)
  const hostPort = p.hostPort === undefined ? undefined : checkPortNumber(p.hostPort, `${arg}.hostPort`)
  let range: [number, number] = [32768, 60999]
  if (p.range !== undefined) {
    if (!Array.isArray(p.range) || p.range.length !== 2) throw invalidArg(`${arg}.range`, p.range, 'must be [low, high]', 'ERR_INVALID_ARG_TYPE')
    range = [checkPortNumber(p.range[0], `${arg}.range[0]`), checkPortNumber(p.range[1], `${arg}.range[1]`)]
    if (range[0] > range[1]) throw invalidArg(`${arg}.range`, p.range, 'must have low <= high')
  }
  const exclude = new Set<number>()
  if (p.exclude !== undefined) {
    if (!Array.isArray(p.exclude)) throw invalidArg(`${arg}.exclude`, p.exclude, 'must be an array of ports', 'ERR_INVALID_ARG_TYPE')
    p.exclude.forEach((x, i) => exclude.add(checkPortNumber(x, `${arg}.exclude[${i}]`)))
  }
  const dualStack = checkBoolish(p.dualStack, `${arg}.dualStack`)
  if (dualStack && (p.hostIp !== undefined || family !== 4)) throw invalidArg(`${arg}.dualStack`, true, 'is only for a mapping without hostIp of family 4')
  return { protocol, family, hostIp, hostPort, range, exclude, containerPort, dualStack }
}

function checkBoolish(v: unknown, arg: string): boolean {
  if (v === undefined) return false
  if (typeof v !== 'boolean') throw invalidArg(arg, v, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  return v
}

/** Two claims on a host port clash: same protocol, family and port, and the same address or a wildcard on either side. */
export function portsClash(
  a: { protocol: string; family: Family; hostIp: string; hostPort: number },
  b: { protocol: string; family: Family; hostIp: string; hostPort: number },
): boolean {
  return (
    a.protocol === b.protocol &&
    a.family === b.family &&
    a.hostPort === b.hostPort &&
    (a.hostIp === b.hostIp || a.hostIp === WILDCARD[a.family] || b.hostIp === WILDCARD[b.family])
  )
}

export function portTaken(p: { protocol: string; hostIp: string; hostPort: number }, endpoint?: string): StoreError {
  return new StoreError(
    'ERR_NETNS_KIT_PORT_ALLOCATED',
    `${p.protocol} ${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort} is already published${endpoint ? ` by the endpoint '${endpoint}'` : ''}`,
    { port: p.hostPort, address: p.hostIp },
  )
}

export function noFreePort(p: NormalPort): StoreError {
  return new StoreError('ERR_NETNS_KIT_NO_FREE_PORT', `no free ${p.protocol} port left in ${p.range[0]}-${p.range[1]} on ${p.hostIp}`, { address: p.hostIp })
}

/** The candidates for an automatic port, after the last one given (wrapping), minus the excluded ones. */
export function* portCandidates(p: NormalPort, cursor: number | undefined): Generator<number> {
  const [lo, hi] = p.range
  const start = cursor !== undefined && cursor >= lo && cursor < hi ? cursor + 1 : lo
  for (let v = start; v <= hi; v++) if (!p.exclude.has(v)) yield v
  for (let v = lo; v < start; v++) if (!p.exclude.has(v)) yield v
}

export function normaliseEndpointSpec(spec: EndpointSpec): NormalEndpoint {
  if (!spec || typeof spec !== 'object') throw invalidArg('spec', spec, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const name = checkRecordName(spec.name, 'spec.name')
  const aliases = checkStrings(spec.aliases, 'spec.aliases', (s, a) => checkRecordName(s, a)) ?? []
  const hostname = spec.hostname === undefined ? undefined : checkRecordName(spec.hostname, 'spec.hostname')
  const ns = checkNs(spec.ns, 'spec.ns')
  const ifname = spec.ifname === undefined ? undefined : checkIfnameLike(spec.ifname, 'spec.ifname')
  const inUse = new Set(checkStrings(spec.ifnamesInUse, 'spec.ifnamesInUse', () => {}) ?? [])
  const hostIf = spec.hostIf === undefined ? undefined : checkIfnameLike(spec.hostIf, 'spec.hostIf')
  const host = spec.host === undefined ? undefined : checkNs(spec.host, 'spec.host')
  const mac = spec.mac === undefined ? undefined : checkMac(spec.mac, 'spec.mac')
  let containerId: string | undefined
  if (spec.containerId !== undefined) {
    if (typeof spec.containerId !== 'string' || spec.containerId.length === 0 || spec.containerId.length > 256 || /[\0-\x1f/]/.test(spec.containerId)) {
      throw invalidArg('spec.containerId', spec.containerId, 'must be 1 to 256 printable characters without /')
    }
    containerId = spec.containerId
  }
  if (!Array.isArray(spec.addresses)) throw invalidArg('spec.addresses', spec.addresses, 'must be an array of { family, ip? }', 'ERR_INVALID_ARG_TYPE')
  const addresses = spec.addresses.map((a, i) => {
    const arg = `spec.addresses[${i}]`
    if (!a || typeof a !== 'object') throw invalidArg(arg, a, 'must be an object { family, ip? }', 'ERR_INVALID_ARG_TYPE')
    if (a.family !== 4 && a.family !== 6) throw invalidArg(`${arg}.family`, a.family, 'must be 4 or 6')
    const ip = a.ip === undefined ? undefined : parseIp(a.ip, `${arg}.ip`)
    if (ip && ip.family !== a.family) throw invalidArg(`${arg}.ip`, a.ip, `is not an IPv${a.family} address`)
    return { family: a.family, ip }
  })
  if (new Set(addresses.map((a) => a.family)).size !== addresses.length) throw invalidArg('spec.addresses', spec.addresses, 'asks twice for one family')
  let gatewayPriority: number | null = 0
  if (spec.gatewayPriority === null) gatewayPriority = null
  else if (spec.gatewayPriority !== undefined) {
    if (!Number.isSafeInteger(spec.gatewayPriority)) throw invalidArg('spec.gatewayPriority', spec.gatewayPriority, 'must be an integer or null')
    gatewayPriority = spec.gatewayPriority
  }
  let dns: DnsSettings | undefined
  if (spec.dns !== undefined) {
    if (!spec.dns || typeof spec.dns !== 'object')
      throw invalidArg('spec.dns', spec.dns, 'must be an object { servers?, search?, options? }', 'ERR_INVALID_ARG_TYPE')
    dns = {}
    const servers = checkStrings(spec.dns.servers, 'spec.dns.servers', (s, a) => {
      checkIp(s, a)
    })
    const search = checkStrings(spec.dns.search, 'spec.dns.search', (s, a) => {
      checkRecordName(s, a)
    })
    const options = checkStrings(spec.dns.options, 'spec.dns.options', (s, a) => {
      if (!/^[A-Za-z0-9_:.-]{1,64}$/.test(s)) throw invalidArg(a, s, 'must be a resolv.conf option')
    })
    if (servers) dns.servers = servers
    if (search) dns.search = search
    if (options) dns.options = options
  }
  const extraHosts: { name: string; ip: string }[] = []
  if (spec.extraHosts !== undefined) {
    if (!Array.isArray(spec.extraHosts) || spec.extraHosts.length > 256)
      throw invalidArg('spec.extraHosts', spec.extraHosts, 'must be an array of { name, ip }', 'ERR_INVALID_ARG_TYPE')
    spec.extraHosts.forEach((h, i) => {
      if (!h || typeof h !== 'object') throw invalidArg(`spec.extraHosts[${i}]`, h, 'must be an object { name, ip }', 'ERR_INVALID_ARG_TYPE')
      extraHosts.push({ name: checkRecordName(h.name, `spec.extraHosts[${i}].name`), ip: formatIp(parseIp(h.ip, `spec.extraHosts[${i}].ip`)) })
    })
  }
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) throw invalidArg('spec.ports', spec.ports, 'must be an array', 'ERR_INVALID_ARG_TYPE')
  const ports = (spec.ports ?? []).map((p, i) => normalisePort(p, `spec.ports[${i}]`))
  const names = [...new Set([name, ...aliases, ...(hostname ? [hostname] : [])].map(nameKey))]
  return {
    id: spec.id === undefined ? randomBytes(6).toString('hex') : checkId(spec.id, 'spec.id'),
    name,
    nameKey: nameKey(name),
    aliases,
    hostname,
    names,
    ns,
    ifname,
    ifnamesInUse: inUse,
    hostIf,
    host,
    mac,
    containerId,
    addresses,
    gatewayPriority,
    dns,
    extraHosts,
    ports,
    config: checkJsonObject(spec.config, 'spec.config'),
    owner: spec.owner === undefined ? currentOwner() : checkOwner(spec.owner, 'spec.owner'),
    created: new Date().toISOString(),
  }
}

/** The first ethN not used by another endpoint of the namespace nor by the kernel. */
export function autoIfname(used: (name: string) => boolean, kernel: Set<string>): string {
  for (let i = 0; i < 4096; i++) {
    const n = `eth${i}`
    if (!kernel.has(n) && !used(n)) return n
  }
  throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', 'no free ethN interface name left in the namespace')
}

/** Whether a newcomer with priority `mine` takes the default route from `holder` (strictly higher only: the first keeps it on a tie). */
export function takesGateway(mine: number | null, holder: number | null | undefined): boolean {
  if (mine === null) return false
  if (holder === undefined) return true
  return holder === null || mine > holder
}

export function checkRules(ids: unknown, arg = 'rules'): string[] {
  if (!Array.isArray(ids) || ids.length > 4096) throw invalidArg(arg, ids, 'must be an array of rule ids', 'ERR_INVALID_ARG_TYPE')
  return ids.map((r, i) => {
    if (typeof r !== 'string' || r.length === 0 || r.length > 128 || /[\0-\x1f]/.test(r)) throw invalidArg(`${arg}[${i}]`, r, 'must be a rule id')
    return r
  })
}

export function noNetwork(id: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_NO_NETWORK', `no network with id '${id}'`, { network: id })
}

export function noEndpoint(id: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_NO_ENDPOINT', `no endpoint with id '${id}'`, { endpoint: id })
}

export function notOwner(what: string, state: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_NOT_OWNER', `${what} is ${state} by another process: only the owner of an intent (or gc, after takeOver) may finish it`)
}

export function wrongState(what: string, state: string, want: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_WRONG_STATE', `${what} is ${state}, not ${want}`)
}

export function busy(ms: number, what: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_STORE_BUSY', `${what}: the store stayed locked by other processes for ${ms} ms`)
}

/** An IP text as its family and 32-hex key. */
export function keyOfAddress(address: string): { family: Family; key: string } {
  const ip = parseIp(address)
  return { family: ip.family, key: hexOf(ip.value) }
}

export function prefixLengthOf(subnet: string): number {
  return Number(subnet.slice(subnet.indexOf('/') + 1))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Jittered exponential backoff: 0.25 ms doubling to 4 ms, times 0.5..1.5. Transactions hold the
 * lock for a fraction of a millisecond: a longer sleep only misses the moments it is free.
 */
export function backoff(attempt: number): number {
  return Math.min(4, 0.25 * 2 ** Math.min(attempt, 4)) * (0.5 + Math.random())
}
