// The network configuration netns-kit-cni takes on stdin, parsed and validated before anything
// reaches the kernel. Modelled on the reference bridge plugin (bridge, isGateway, ipMasq, mtu,
// hairpinMode) with netns-kit's own address management in `ipam` (subnet, gateway, rangeStart,
// rangeEnd, routes, or host-local's `ranges` form), `dns` passed through to the result, and the
// runtime's capability arguments: portMappings, ips, mac.
//
// Fields the reference bridge plugin has but netns-kit cannot honour yet are refused with code 2
// (naming the key and value) rather than silently ignored.
import { checkIfName, checkIp, checkMac, checkMtu } from '../../validate'
import { checkNetworkName } from '../../ipam/pool'
import { contains, formatIp, formatPrefix, lastOf, parseIp, parsePrefix, type Prefix } from '../../ipam/ip'
import { CNI_ERR, CniError } from './errors'
import { checkSupported } from './version'
import type { CniCommand } from './env'

export type Protocol = 'tcp' | 'udp' | 'sctp'

export interface PortMapping {
  hostPort: number
  containerPort: number
  protocol: Protocol
  hostIP?: string
}
export interface RouteConf {
  dst: string
  gw?: string
}
export interface DnsConf {
  nameservers?: string[]
  domain?: string
  search?: string[]
  options?: string[]
}

export interface IpamConf {
  /** IPv4 subnet (canonical). */
  subnet: string
  gateway?: string
  /** rangeStart..rangeEnd as the prefix netns-kit's IPAM allocates from (undefined: the whole subnet). */
  ipRange?: string
  rangeStart?: string
  rangeEnd?: string
  routes: RouteConf[]
  ipv6?: { subnet: string; gateway?: string }
}

/** A JSON object as the runtime sent it (prevResult): checked field by field where it is read. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>

export interface NetConf {
  cniVersion: string
  name: string
  type: string
  bridge: string
  isDefaultGateway: boolean
  ipMasq: boolean
  mtu?: number
  ipam: IpamConf
  dns?: DnsConf
  /** Where netns-kit keeps its records (default /run/netns-kit). */
  stateDir?: string
  runtimeConfig: { portMappings: PortMapping[]; ips: string[]; mac?: string }
  prevResult?: JsonObject
  validAttachments?: { containerID: string; ifname: string }[]
}

/** The bridge plugin's name when none is given. */
export const DEFAULT_BRIDGE = 'cni0'

type Obj = Record<string, unknown>

const invalid = (msg: string, details?: string) => new CniError(CNI_ERR.INVALID_CONFIG, msg, details)
const unsupported = (key: string, value: unknown, why: string) =>
  new CniError(CNI_ERR.UNSUPPORTED_FIELD, `unsupported field ${key}: ${JSON.stringify(value)}`, why)

function isObj(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v)
}

/** Runs a library validator; its TypeError becomes an invalid-configuration error naming `key`. */
function lib<T>(key: string, f: () => T): T {
  try {
    return f()
  } catch (e) {
    throw invalid(`invalid ${key}`, (e as Error).message)
  }
}

function bool(o: Obj, key: string, dflt: boolean): boolean {
  const v = o[key]
  if (v === undefined) return dflt
  if (typeof v !== 'boolean') throw invalid(`${key} must be true or false`, `got ${JSON.stringify(v)}`)
  return v
}

function strings(v: unknown, key: string): string[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`${key} must be a list of strings`)
  return v
}

function port(v: unknown, key: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) throw invalid(`${key} must be a port from 1 to 65535`, `got ${JSON.stringify(v)}`)
  return v as number
}

/** An address, optionally with a prefix length ('10.1.2.3' or '10.1.2.3/24'), as its bare address. */
function bareIp(v: unknown, key: string): string {
  if (typeof v !== 'string') throw invalid(`${key} must be an address`)
  const a = v.split('/')[0]!
  lib(key, () => checkIp(a, key))
  return a
}

/**
 * rangeStart..rangeEnd as one prefix: the smallest prefix holding both ends, accepted when the
 * addresses it holds outside the range are only ones never handed out anyway (the subnet's
 * network and broadcast addresses and the gateway). Undefined when that prefix is the subnet.
 */
export function rangeToPrefix(subnet: Prefix, gateway: bigint, start: bigint, end: bigint): string | undefined {
  if (start > end) throw invalid('rangeStart is after rangeEnd')
  const bits = subnet.family === 4 ? 32 : 128
  let len = bits
  while (len > subnet.prefixLength && start >> BigInt(bits - len) !== end >> BigInt(bits - len)) len--
  const p: Prefix = { family: subnet.family, network: (start >> BigInt(bits - len)) << BigInt(bits - len), prefixLength: len }
  const reserved = new Set([subnet.network, lastOf(subnet), gateway])
  const extra = start - p.network + (lastOf(p) - end)
  let reservedOutside = 0n
  for (const r of reserved) if (r >= p.network && r <= lastOf(p) && (r < start || r > end)) reservedOutside++
  if (extra !== reservedOutside) {
    throw new CniError(
      CNI_ERR.UNSUPPORTED_FIELD,
      `unsupported field ipam.rangeStart/rangeEnd: ${formatIp({ family: subnet.family, value: start })}-${formatIp({ family: subnet.family, value: end })}`,
      `netns-kit's IPAM allocates from a prefix: the range must be a whole prefix such as ${formatPrefix(p)} (less the network, broadcast and gateway addresses)`,
    )
  }
  return len === subnet.prefixLength ? undefined : formatPrefix(p)
}

interface RangeIn {
  subnet?: unknown
  gateway?: unknown
  rangeStart?: unknown
  rangeEnd?: unknown
}

function parseRange(r: RangeIn, key: string): { family: 4 | 6; subnet: string; gateway?: string; ipRange?: string; rangeStart?: string; rangeEnd?: string } {
  const subnet = lib(`${key}.subnet`, () => parsePrefix(r.subnet, `${key}.subnet`))
  let gw: bigint = subnet.network + 1n
  let gateway: string | undefined
  if (r.gateway !== undefined) {
    const g = lib(`${key}.gateway`, () => parseIp(r.gateway, `${key}.gateway`))
    if (g.family !== subnet.family || !contains(subnet, g)) throw invalid(`${key}.gateway ${String(r.gateway)} is not inside ${formatPrefix(subnet)}`)
    gw = g.value
    gateway = formatIp(g)
  }
  let ipRange: string | undefined
  if (r.rangeStart !== undefined || r.rangeEnd !== undefined) {
    if (subnet.family === 6) throw unsupported(`${key}.rangeStart`, r.rangeStart ?? r.rangeEnd, 'IPv6 ranges are allocated from the whole subnet')
    const s = r.rangeStart === undefined ? subnet.network + 1n : lib(`${key}.rangeStart`, () => parseIp(r.rangeStart, `${key}.rangeStart`)).value
    const e = r.rangeEnd === undefined ? lastOf(subnet) - 1n : lib(`${key}.rangeEnd`, () => parseIp(r.rangeEnd, `${key}.rangeEnd`)).value
    for (const [k, v] of [
      ['rangeStart', s],
      ['rangeEnd', e],
    ] as const) {
      if (!contains(subnet, { family: subnet.family, value: v })) throw invalid(`${key}.${k} is not inside ${formatPrefix(subnet)}`)
    }
    ipRange = rangeToPrefix(subnet, gw, s, e)
  }
  return {
    family: subnet.family,
    subnet: formatPrefix(subnet),
    gateway,
    ipRange,
    ...(typeof r.rangeStart === 'string' ? { rangeStart: r.rangeStart } : {}),
    ...(typeof r.rangeEnd === 'string' ? { rangeEnd: r.rangeEnd } : {}),
  }
}

function parseIpam(v: unknown): IpamConf {
  if (!isObj(v)) throw invalid('ipam is required', 'an object with subnet (and optionally gateway, rangeStart, rangeEnd, routes) or ranges')
  if (v.type !== undefined && v.type !== 'netns-kit') {
    throw unsupported('ipam.type', v.type, 'netns-kit-cni allocates addresses itself: leave ipam.type out or set it to "netns-kit"')
  }
  if (v.resolvConf !== undefined) throw unsupported('ipam.resolvConf', v.resolvConf, 'give the servers in dns.nameservers')
  const ranges: ReturnType<typeof parseRange>[] = []
  if (v.ranges !== undefined) {
    if (v.subnet !== undefined) throw invalid('ipam has both subnet and ranges')
    if (!Array.isArray(v.ranges) || !v.ranges.length) throw invalid('ipam.ranges must be a list of range sets')
    v.ranges.forEach((set, i) => {
      if (!Array.isArray(set) || !set.length || !set.every(isObj)) throw invalid(`ipam.ranges[${i}] must be a list of ranges`)
      if (set.length > 1) throw unsupported(`ipam.ranges[${i}]`, set, 'one range per set (one subnet per address family)')
      ranges.push(parseRange(set[0] as RangeIn, `ipam.ranges[${i}][0]`))
    })
  } else {
    if (v.subnet === undefined) throw invalid('ipam.subnet is required')
    ranges.push(parseRange(v as RangeIn, 'ipam'))
  }
  const v4 = ranges.filter((r) => r.family === 4)
  const v6 = ranges.filter((r) => r.family === 6)
  if (v4.length !== 1)
    throw v4.length ? unsupported('ipam.ranges', v.ranges, 'one IPv4 range set') : invalid('ipam needs an IPv4 subnet (IPv6 only is not supported)')
  if (v6.length > 1) throw unsupported('ipam.ranges', v.ranges, 'at most one IPv6 range set')
  const routes: RouteConf[] = []
  if (v.routes !== undefined) {
    if (!Array.isArray(v.routes)) throw invalid('ipam.routes must be a list of { dst, gw? }')
    v.routes.forEach((r, i) => {
      if (!isObj(r)) throw invalid(`ipam.routes[${i}] must be an object { dst, gw? }`)
      const dst = lib(`ipam.routes[${i}].dst`, () => parsePrefix(r.dst, `ipam.routes[${i}].dst`))
      const route: RouteConf = { dst: r.dst as string }
      if (r.gw !== undefined) {
        const gw = lib(`ipam.routes[${i}].gw`, () => parseIp(r.gw, `ipam.routes[${i}].gw`))
        if (gw.family !== dst.family) throw invalid(`ipam.routes[${i}].gw is not of the family of its dst`)
        route.gw = r.gw as string
      }
      if (dst.family === 6 && !v6.length) throw invalid(`ipam.routes[${i}] is IPv6 but the network has no IPv6 subnet`)
      routes.push(route)
    })
  }
  const [a] = v4
  return {
    subnet: a!.subnet,
    gateway: a!.gateway,
    ipRange: a!.ipRange,
    rangeStart: a!.rangeStart,
    rangeEnd: a!.rangeEnd,
    routes,
    ...(v6[0] ? { ipv6: { subnet: v6[0].subnet, gateway: v6[0].gateway } } : {}),
  }
}

function parseDns(v: unknown): DnsConf | undefined {
  if (v === undefined) return undefined
  if (!isObj(v)) throw invalid('dns must be an object')
  const out: DnsConf = {}
  const ns = strings(v.nameservers, 'dns.nameservers')
  if (ns) {
    ns.forEach((s, i) => lib(`dns.nameservers[${i}]`, () => checkIp(s, `dns.nameservers[${i}]`)))
    out.nameservers = ns
  }
  if (v.domain !== undefined) {
    if (typeof v.domain !== 'string') throw invalid('dns.domain must be a string')
    out.domain = v.domain
  }
  const search = strings(v.search, 'dns.search')
  if (search) out.search = search
  const options = strings(v.options, 'dns.options')
  if (options) out.options = options
  return Object.keys(out).length ? out : undefined
}

function parsePortMappings(v: unknown): PortMapping[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid('runtimeConfig.portMappings must be a list')
  return v.map((m, i) => {
    const key = `runtimeConfig.portMappings[${i}]`
    if (!isObj(m)) throw invalid(`${key} must be an object { hostPort, containerPort, protocol, hostIP? }`)
    const protocol = m.protocol === undefined || m.protocol === '' ? 'tcp' : String(m.protocol).toLowerCase()
    if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw invalid(`${key}.protocol must be tcp, udp or sctp`, `got ${JSON.stringify(m.protocol)}`)
    const out: PortMapping = {
      hostPort: port(m.hostPort, `${key}.hostPort`),
      containerPort: port(m.containerPort, `${key}.containerPort`),
      protocol: protocol as Protocol,
    }
    if (m.hostIP !== undefined && m.hostIP !== '') out.hostIP = bareIp(m.hostIP, `${key}.hostIP`)
    return out
  })
}

/** Fields of the reference bridge plugin whose non-default values netns-kit cannot honour yet. */
const BRIDGE_DEFAULTS: Record<string, unknown> = {
  isGateway: true,
  hairpinMode: true,
  forceAddress: false,
  promiscMode: false,
  vlan: 0,
  preserveDefaultVlan: true,
  macspoofchk: false,
  enabledad: false,
  disableContainerInterface: false,
  portIsolation: false,
}
const WHY: Record<string, string> = {
  isGateway: 'the bridge always carries the gateway address (netns-kit networks are gateways)',
  hairpinMode: 'bridge ports are always in hairpin mode (a container reaches its own published ports)',
}

/**
 * Parses the request configuration of `command`. Code 6 when it is not JSON, 1 for a version
 * netns-kit-cni does not speak, 7 for invalid values, 2 for fields it cannot honour.
 */
export function parseConfig(text: string, command: CniCommand): NetConf {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new CniError(CNI_ERR.DECODING_FAILURE, 'error unmarshalling network config', (e as Error).message)
  }
  if (!isObj(raw)) throw new CniError(CNI_ERR.DECODING_FAILURE, 'error unmarshalling network config', 'not a JSON object')
  const cniVersion = raw.cniVersion === undefined ? '0.1.0' : raw.cniVersion
  if (typeof cniVersion !== 'string') throw new CniError(CNI_ERR.DECODING_FAILURE, 'cniVersion must be a string')
  checkSupported(cniVersion)
  if (typeof raw.name !== 'string' || !raw.name) throw invalid('missing network name')
  const name = lib('name', () => checkNetworkName(raw.name, 'name'))
  const type = typeof raw.type === 'string' ? raw.type : ''
  for (const [k, d] of Object.entries(BRIDGE_DEFAULTS)) {
    if (raw[k] !== undefined && raw[k] !== d) {
      if (typeof raw[k] !== typeof d) throw invalid(`${k} must be a ${typeof d}`, `got ${JSON.stringify(raw[k])}`)
      throw unsupported(k, raw[k], WHY[k] ?? 'not implemented by netns-kit-cni yet')
    }
  }
  if (raw.vlanTrunk !== undefined) throw unsupported('vlanTrunk', raw.vlanTrunk, 'not implemented by netns-kit-cni yet')
  const bridge = raw.bridge === undefined ? DEFAULT_BRIDGE : lib('bridge', () => checkIfName(raw.bridge, 'bridge'))
  const mtu = raw.mtu === undefined ? undefined : lib('mtu', () => checkMtu(raw.mtu, 'mtu'))
  let stateDir: string | undefined
  if (raw.stateDir !== undefined) {
    if (typeof raw.stateDir !== 'string' || !raw.stateDir.startsWith('/')) throw invalid('stateDir must be an absolute path')
    stateDir = raw.stateDir
  }
  const rc = raw.runtimeConfig === undefined ? {} : raw.runtimeConfig
  if (!isObj(rc)) throw invalid('runtimeConfig must be an object')
  const ips: string[] = []
  // Capability `ips`, else args.cni.ips (CONVENTIONS.md); CNI_ARGS IP is read by the verb.
  const ipList = rc.ips ?? (isObj(raw.args) && isObj(raw.args.cni) ? raw.args.cni.ips : undefined)
  if (ipList !== undefined) {
    if (!Array.isArray(ipList)) throw invalid('runtimeConfig.ips must be a list of addresses')
    ipList.forEach((a, i) => ips.push(bareIp(a, `ips[${i}]`)))
  }
  const mac = rc.mac === undefined || rc.mac === '' ? undefined : lib('runtimeConfig.mac', () => checkMac(rc.mac, 'runtimeConfig.mac'))
  const conf: NetConf = {
    cniVersion,
    name,
    type,
    bridge,
    isDefaultGateway: bool(raw, 'isDefaultGateway', false),
    ipMasq: bool(raw, 'ipMasq', false),
    ...(mtu !== undefined ? { mtu } : {}),
    ipam: parseIpam(raw.ipam),
    ...(stateDir ? { stateDir } : {}),
    runtimeConfig: { portMappings: parsePortMappings(rc.portMappings), ips, ...(mac ? { mac } : {}) },
  }
  const dns = parseDns(raw.dns)
  if (dns) conf.dns = dns
  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    if (!isObj(raw.prevResult)) throw new CniError(CNI_ERR.DECODING_FAILURE, 'prevResult must be an object')
    conf.prevResult = raw.prevResult
  }
  if (command === 'GC') {
    const va = raw['cni.dev/valid-attachments']
    if (va !== undefined) {
      if (!Array.isArray(va) || !va.every((a) => isObj(a) && typeof a.containerID === 'string' && typeof a.ifname === 'string')) {
        throw new CniError(CNI_ERR.DECODING_FAILURE, 'cni.dev/valid-attachments must be a list of { containerID, ifname }')
      }
      conf.validAttachments = va as { containerID: string; ifname: string }[]
    }
  }
  return conf
}
