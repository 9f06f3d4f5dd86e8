// Endpoint specs and host ports of every NetworkStore (lib/ipam/store-logic.ts): validating a connect's
// spec, the claims a port makes, when two clash, and the candidates of an automatic port.
import { randomBytes } from 'node:crypto'
import { invalidArg, outOfRange } from '../errors'
import { checkIp, checkMac } from '../validate'
import { formatIp, parseIp, type Family, type Ip } from './ip'
import { checkOwner, currentOwner, type Owner } from './owner'
import { StoreError, type DnsSettings, type EndpointSpec, type NsIdentity, type PortProtocol, type PortSpec } from './network-store'
import { checkNs, checkId, checkRecordName, nameKey, checkJsonObject, checkIfnameLike } from './store-logic'

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
