// Published ports: the checked form of a mapping, its map keys and elements, and the lookups that
// find a host port taken (another map publishing it) or free (docker -P).
import * as net from 'node:net'
import { NetnsKitError, invalidArg, outOfRange } from '../errors'
import type { NftElement, NftMsg } from '../kernel/binding'
import { ipToBytes, isLoopbackIp } from '../ipam/ip'
import type { Namespace } from '../namespace'
import { checkPort, isMulticastIp } from '../validate'
import { L4PROTO, comment, ifnameBytes, padded, portBytes } from './expr'
import { HAIRPIN_SETS, MAPS, TABLE, TAG, findElements, tableExists, type MapDef } from './ruleset'
import { localAddresses, type Egress } from './host'
import type { ElemRef, NatProtocol, PublishOptions } from './types'

const MAX_RANGE = 65535

/** A mapping, checked. */
export interface PublishSpec {
  protocol: NatProtocol
  family: 4 | 6
  hostIp?: string
  hostPort?: [number, number]
  containerIp: string
  containerPort: [number, number]
  localhost: boolean
  /** hostIp was a loopback address: published on 127.0.0.0/8 only. */
  loopbackOnly: boolean
  /** Respect the host's own sockets and reserved ports (PublishOptions.hostSockets). */
  hostSockets: boolean
}

function checkRange(v: unknown, arg: string): [number, number] {
  if (typeof v === 'number') {
    const p = checkPort(v, arg)
    return [p, p]
  }
  if (!Array.isArray(v) || v.length !== 2) throw invalidArg(arg, v, 'must be a port or a [first, last] range', 'ERR_INVALID_ARG_TYPE')
  const a = checkPort(v[0], `${arg}[0]`),
    b = checkPort(v[1], `${arg}[1]`)
  if (a > b) throw invalidArg(arg, v, 'must not be a reversed range')
  if (b - a + 1 > MAX_RANGE) throw outOfRange(arg, `at most ${MAX_RANGE} ports`, v)
  return [a, b]
}

export function checkPublish(opts: PublishOptions): PublishSpec {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  if (!Object.hasOwn(L4PROTO, opts.protocol as string)) throw invalidArg('opts.protocol', opts.protocol, "must be 'tcp', 'udp' or 'sctp'")
  const family = net.isIP(typeof opts.containerIp === 'string' ? opts.containerIp : '') as 0 | 4 | 6
  if (family === 0) throw invalidArg('opts.containerIp', opts.containerIp, 'must be an IPv4 or IPv6 address')
  if (isMulticastIp(opts.containerIp) || opts.containerIp === '0.0.0.0' || /^[:0]+$/.test(opts.containerIp)) {
    throw invalidArg('opts.containerIp', opts.containerIp, 'must be a unicast address (not multicast or unspecified)')
  }
  if (opts.hostIp !== undefined) {
    const hf = net.isIP(typeof opts.hostIp === 'string' ? opts.hostIp : '')
    if (hf === 0) throw invalidArg('opts.hostIp', opts.hostIp, 'must be an IPv4 or IPv6 address')
    if (hf !== family) throw invalidArg('opts.hostIp', opts.hostIp, `must be of the same family as containerIp (${opts.containerIp})`)
    if (isMulticastIp(opts.hostIp)) throw invalidArg('opts.hostIp', opts.hostIp, 'must be a unicast address of the host, not multicast')
    if (opts.hostIp === '0.0.0.0' || opts.hostIp === '::')
      throw invalidArg('opts.hostIp', opts.hostIp, 'must be a specific address: leave it out to publish on every local address')
    if (hf === 6 && isLoopbackIp(opts.hostIp))
      throw invalidArg('opts.hostIp', opts.hostIp, 'must not be ::1: the kernel never routes IPv6 loopback traffic to another interface')
  }
  if (opts.hostSockets !== undefined && typeof opts.hostSockets !== 'boolean')
    throw invalidArg('opts.hostSockets', opts.hostSockets, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  if (opts.localhost !== undefined && typeof opts.localhost !== 'boolean')
    throw invalidArg('opts.localhost', opts.localhost, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  if (opts.localhost === true && family !== 4) throw invalidArg('opts.localhost', true, 'is only possible for IPv4 (the kernel never routes ::1 off the host)')
  const containerPort = checkRange(opts.containerPort, 'opts.containerPort')
  const hostPort = opts.hostPort === undefined ? undefined : checkRange(opts.hostPort, 'opts.hostPort')
  const cLen = containerPort[1] - containerPort[0]
  if (cLen > 0) {
    if (!hostPort) throw invalidArg('opts.hostPort', opts.hostPort, 'must be a range of the same size when containerPort is a range')
    if (hostPort[1] - hostPort[0] !== cLen)
      throw invalidArg('opts.hostPort', opts.hostPort, `must be a range of the same size as containerPort (${cLen + 1} ports)`)
  }
  // docker -p 127.0.0.1:HOST:CONT: the loopback only (any 127.0.0.0/8 address of the namespace).
  const loopbackOnly = opts.hostIp !== undefined && isLoopbackIp(opts.hostIp)
  return {
    protocol: opts.protocol,
    family,
    hostIp: loopbackOnly ? undefined : opts.hostIp,
    hostPort,
    containerIp: opts.containerIp,
    containerPort,
    localhost: opts.localhost === true || loopbackOnly,
    loopbackOnly,
    hostSockets: opts.hostSockets !== false,
  }
}

/**
 * The host port is chosen, not given: docker -P (none given), or -p 8000-8010:80 (one free port of
 * that range for one container port).
 */
export function isChosen(spec: PublishSpec): boolean {
  return !spec.hostPort || (spec.hostPort[0] !== spec.hostPort[1] && spec.containerPort[0] === spec.containerPort[1])
}

export function fmtRange(r: [number, number]): string {
  return r[0] === r[1] ? String(r[0]) : `${r[0]}-${r[1]}`
}

/** The maps a mapping's elements go in (the loopback map too with localhost). */
export function targetMaps(spec: PublishSpec): MapDef[] {
  const lo = MAPS.find((m) => m.loopback)!
  if (spec.loopbackOnly) return [lo]
  const maps = mapsFor(spec.family, spec.hostIp)
  return spec.localhost ? [...maps, lo] : maps
}

function mapsFor(family: 4 | 6, hostIp: string | undefined): MapDef[] {
  return MAPS.filter((m) => m.family === family && !m.loopback && m.byAddress === (hostIp !== undefined))
}

function elementKey(m: MapDef, protocol: NatProtocol, port: number, hostIp: string | undefined): Buffer {
  const parts: Buffer[] = []
  if (m.byAddress) parts.push(ipToBytes(hostIp!))
  parts.push(padded(Buffer.from([L4PROTO[protocol]])), padded(portBytes(port)))
  return Buffer.concat(parts)
}

/** Keys a mapping of `port` would have in map `m` (one per local address for an address map). */
function keysFor(m: MapDef, protocol: NatProtocol, port: number, addresses: string[]): Buffer[] {
  return m.byAddress ? addresses.map((a) => elementKey(m, protocol, port, a)) : [elementKey(m, protocol, port, undefined)]
}

/** A map element to add, and how the rule finds it again. */
export interface BuiltElement {
  ref: ElemRef
  element: NftElement
}

/**
 * The map elements of one mapping: one per host port of `hostRange` and map, keyed by (address,)
 * protocol and port, mapping to the container address and port (ports of a range pair up one
 * to one), each with the owner comment `note`.
 */
export function mappingElements(spec: PublishSpec, maps: MapDef[], hostRange: [number, number], note: string): BuiltElement[] {
  const out: BuiltElement[] = []
  const userdata = comment(note)
  for (const m of maps) {
    for (let i = 0; i <= hostRange[1] - hostRange[0]; i++) {
      const key = elementKey(m, spec.protocol, hostRange[0] + i, spec.hostIp)
      const cport = spec.containerPort[0] === spec.containerPort[1] ? spec.containerPort[0] : spec.containerPort[0] + i
      out.push({ ref: { map: m.name, key }, element: { key, data: Buffer.concat([ipToBytes(spec.containerIp), padded(portBytes(cport))]), userdata } })
    }
  }
  return out
}

/** One exclusive NEWSETELEM message per map (the kernel refuses a key that is already there). */
export function groupByMap(built: BuiltElement[]): NftMsg[] {
  const byMap = new Map<string, NftMsg & { op: 'newsetelem' }>()
  for (const { ref, element } of built) {
    const msg = byMap.get(ref.map) ?? { op: 'newsetelem', family: 'inet', table: TABLE, set: ref.map, elements: [], exclusive: true }
    msg.elements.push(element)
    byMap.set(ref.map, msg)
  }
  return [...byMap.values()]
}

/**
 * Hairpin: DNAT'd traffic from the subnet behind the interface going back into it is masqueraded,
 * so containers reach published ports (their own too) through the host's addresses.
 */
export function hairpinMessage(family: 4 | 6, egress: Egress): NftMsg {
  const { dev, subnet } = egress
  return {
    op: 'newsetelem',
    family: 'inet',
    table: TABLE,
    set: HAIRPIN_SETS[family],
    elements: [
      {
        key: Buffer.concat([ifnameBytes(dev), ipToBytes(subnet.first)]),
        keyEnd: Buffer.concat([ifnameBytes(dev), ipToBytes(subnet.last)]),
        userdata: comment(`${TAG} hairpin`),
      },
    ],
  }
}

export function portAllocated(spec: PublishSpec, r: [number, number]): NetnsKitError {
  return new NetnsKitError(
    'ERR_NETNS_KIT_PORT_ALLOCATED',
    `${spec.loopbackOnly ? '127.0.0.1' : (spec.hostIp ?? (spec.family === 4 ? '0.0.0.0' : '[::]'))}:${fmtRange(r)}/${spec.protocol} is already published`,
  )
}

/**
 * Whether our table is there and the local addresses of the family (the keys an address map can
 * hold); what the collision check and the choice of a free port go by.
 */
export interface Probe {
  exists: boolean
  addrs: string[]
}

export async function probeTable(ns: Namespace, family: 4 | 6): Promise<Probe> {
  const [exists, addrs] = await Promise.all([tableExists(ns, 'inet'), localAddresses(ns, family)])
  return { exists, addrs }
}

/** Which maps a publish must not collide with: a wildcard's and an address's on the same port. */
function collisionMaps(spec: PublishSpec): MapDef[] {
  if (spec.loopbackOnly) return []
  const maps = mapsFor(spec.family, spec.hostIp)
  return MAPS.filter((m) => m.family === spec.family && !m.loopback && !maps.includes(m))
}

/** Fails with ERR_NETNS_KIT_PORT_ALLOCATED when another map already publishes one of these ports. */
export async function checkCollisions(ns: Namespace, spec: PublishSpec, r: [number, number], probe: Probe): Promise<void> {
  if (!probe.exists) return
  // The same map is the kernel's job (NLM_F_EXCL); a wildcard and an address on the same port are
  // ours: looked up key by key (the wildcard's key, or one key per local address), every map at once.
  const found = await Promise.all(
    collisionMaps(spec).map((m) => {
      const keys: Buffer[] = []
      for (let port = r[0]; port <= r[1]; port++) keys.push(...keysFor(m, spec.protocol, port, probe.addrs))
      return findElements(ns, m.name, keys)
    }),
  )
  if (found.some((list) => list.some((e) => e !== null))) throw portAllocated(spec, r)
}

/**
 * Candidate host ports for -P: random picks from `range` (net.ipv4.ip_local_port_range, or the
 * range asked for) that `skip` lets through (host sockets, reserved ports) and no map holds for
 * this protocol, each checked by key lookups (the kernel's NLM_F_EXCL settles races).
 */
export async function freePorts(
  ns: Namespace,
  spec: PublishSpec,
  tries: number,
  range: [number, number],
  probe: Probe,
  skip: (port: number) => boolean = () => false,
): Promise<[number, number][]> {
  const [lo, hi] = range
  const size = hi - lo + 1
  const family = MAPS.filter((m) => m.family === spec.family)
  const out: [number, number][] = []
  const start = Math.floor(Math.random() * size)
  for (let done = 0; done < size && out.length < tries; done += tries) {
    const candidates: number[] = []
    for (let i = done; i < Math.min(size, done + tries); i++) {
      const p = lo + ((start + i) % size)
      if (!skip(p)) candidates.push(p)
    }
    const taken = new Set<number>()
    if (probe.exists) {
      await Promise.all(
        family.map(async (m) => {
          const keys = candidates.map((p) => keysFor(m, spec.protocol, p, probe.addrs))
          const found = await findElements(ns, m.name, keys.flat())
          let k = 0
          keys.forEach((ks, i) => {
            for (let j = 0; j < ks.length; j++, k++) if (found[k]) taken.add(candidates[i]!)
          })
        }),
      )
    }
    for (const p of candidates) if (!taken.has(p) && out.length < tries) out.push([p, p])
  }
  if (!out.length) throw new NetnsKitError('ERR_NETNS_KIT_NO_FREE_PORT', `no free ${spec.protocol} port in ${lo}-${hi}`)
  return out
}

/** The index of the first list of elements of which one key is already in its map (looked up by key). */
export async function firstTaken(ns: Namespace, elemsOf: ElemRef[][]): Promise<number | undefined> {
  for (const [i, elems] of elemsOf.entries()) {
    for (const map of new Set(elems.map((e) => e.map))) {
      const found = await findElements(
        ns,
        map,
        elems.filter((e) => e.map === map).map((e) => e.key),
      )
      if (found.some((e) => e !== null)) return i
    }
  }
  return undefined
}
