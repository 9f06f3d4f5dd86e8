// What every NetworkStore does the same way, without I/O: validating specs, the pools' address
// arithmetic, the cursor scan for a free address, the automatic subnet, port conflicts and the
// choice of the endpoint that provides a container's default route.
import { randomUUID } from 'node:crypto'
import { invalidArg } from '../errors'
import { parseIp, parsePrefix, overlaps, type Family, type Prefix } from './ip'
import { checkNetworkName, makePool } from './pool'
import { checkOwner, currentOwner, type Owner } from './owner'
import { DEFAULT_ADDRESS_POOLS, candidateSubnets } from './subnet-pool'
import { StoreError, type CreateNetworkSpec, type NsIdentity, type PoolRecord } from './network-store'

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

export function checkJsonObject(v: unknown, arg: string): Record<string, unknown> {
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

export function checkIfnameLike(v: unknown, arg: string): string {
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

// The pools' arithmetic and the endpoint specs live beside this file; every store imports them from here.
export * from './store-pools'
export * from './store-endpoint-spec'
