// Connection tracking (ctnetlink) inside a namespace: list entries and delete stale ones.
// The wire format lives in native/ct; this module validates input and shapes the results.
import { invalidArg } from './errors'
import type { NativeCtEntry, NativeCtFilter, NativeCtTuple } from './kernel/binding'
import { ctDelete, ctList } from './kernel/ct'
import { Namespace } from './namespace'
import { checkInt, checkIp, checkPort } from './validate'

/**
 * Selects conntrack entries. Every field given must match; an absent field matches anything.
 * Ports and addresses are those of the original direction (as the first packet had them:
 * for a published port, `origDst`/`origDstPort` are the HOST address and port) or of the
 * reply direction (`replySrc`/`replySrcPort`: after DNAT, the container's address and port).
 */
export interface ConntrackFilter {
  family?: 4 | 6
  /** 'tcp', 'udp', 'sctp' or an IP protocol number (1 icmp, 58 icmpv6, ...). */
  protocol?: 'tcp' | 'udp' | 'sctp' | number
  /** `conntrack --orig-dst` */
  origDst?: string
  /** `conntrack --dport` */
  origDstPort?: number
  /** `conntrack --orig-src` */
  origSrc?: string
  /** `conntrack --reply-src` */
  replySrc?: string
  /** `conntrack --reply-port-src` */
  replySrcPort?: number
}

/** One direction of a connection. */
export interface ConntrackTuple {
  src: string
  dst: string
  /** Ports (tcp, udp, sctp, dccp, udplite; gre keys). */
  srcPort?: number
  dstPort?: number
  /** icmp / icmpv6 */
  icmpId?: number
  icmpType?: number
  icmpCode?: number
  /** A conntrack zone that applies to this direction only. */
  zone?: number
}

/** A conntrack entry, as `conntrack -L` shows it. */
export interface ConntrackEntry {
  family: 4 | 6
  /** 'tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'dccp', 'gre', 'udplite', or the number. */
  protocol: string | number
  protocolNumber: number
  /** The original direction (the first packet). */
  orig: ConntrackTuple
  /** The reply direction (after NAT, the translated addresses). */
  reply?: ConntrackTuple
  /** IPS_* status bits. */
  status: number
  /** The status bits by name: 'seen-reply', 'assured', 'confirmed', 'dst-nat', ... */
  flags: string[]
  /** Seconds until the entry expires. */
  timeout?: number
  mark: number
  /** The kernel's id of the entry (CTA_ID). */
  id?: number
  use?: number
  zone?: number
  /** TCP state as conntrack prints it: 'ESTABLISHED', 'TIME_WAIT', ... */
  tcpState?: string
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 }
const PROTOCOL_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' }
const IPPROTO_ICMP = 1
const IPPROTO_ICMPV6 = 58

// enum ip_conntrack_status (linux/netfilter/nf_conntrack_common.h), bit by bit.
const STATUS_BITS = [
  'expected',
  'seen-reply',
  'assured',
  'confirmed',
  'src-nat',
  'dst-nat',
  'seq-adjust',
  'src-nat-done',
  'dst-nat-done',
  'dying',
  'fixed-timeout',
  'template',
  'nat-clash',
  'helper',
  'offload',
  'hw-offload',
]

// enum tcp_conntrack, as conntrack(8) prints it.
const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2']

const FILTER_KEYS = new Set(['family', 'protocol', 'origDst', 'origDstPort', 'origSrc', 'replySrc', 'replySrcPort'])

/** Validates a filter and turns it into the addon's shape. */
export function checkConntrackFilter(filter: unknown, arg = 'filter'): NativeCtFilter {
  if (filter === undefined) return {}
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw invalidArg(arg, filter, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const f = filter as Record<string, unknown>
  // An unknown key would silently widen the match (a typo such as 'dport' deleting every
  // UDP entry): refuse it.
  for (const k of Object.keys(f)) {
    if (!FILTER_KEYS.has(k)) throw invalidArg(arg, filter, `has an unknown key '${k}' (known: ${[...FILTER_KEYS].join(', ')})`)
  }
  const out: NativeCtFilter = {}
  const families = new Set<4 | 6>()
  if (f.family !== undefined) {
    if (f.family !== 4 && f.family !== 6) throw invalidArg(`${arg}.family`, f.family, 'must be 4 or 6')
    families.add(f.family)
  }
  if (f.protocol !== undefined) {
    if (typeof f.protocol === 'string') {
      const n = PROTOCOLS[f.protocol]
      if (n === undefined) throw invalidArg(`${arg}.protocol`, f.protocol, "must be 'tcp', 'udp', 'sctp' or a protocol number")
      out.protocol = n
    } else {
      out.protocol = checkInt(f.protocol, `${arg}.protocol`, 0, 255)
    }
  }
  for (const k of ['origDst', 'origSrc', 'replySrc'] as const) {
    if (f[k] === undefined) continue
    families.add(checkIp(f[k], `${arg}.${k}`))
    out[k] = f[k] as string
  }
  if (families.size > 1) throw invalidArg(arg, filter, 'mixes IPv4 and IPv6 (family and addresses must agree)')
  if (families.size === 1) out.family = [...families][0]
  for (const k of ['origDstPort', 'replySrcPort'] as const) {
    if (f[k] === undefined) continue
    out[k] = checkPort(f[k], `${arg}.${k}`)
    if (out.protocol === IPPROTO_ICMP || out.protocol === IPPROTO_ICMPV6)
      throw invalidArg(arg, filter, `asks for a port of ${PROTOCOL_NAMES[out.protocol]}, which has none`)
  }
  return out
}

function checkNamespace(ns: unknown): Namespace {
  if (!(ns instanceof Namespace)) throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
  return ns
}

function tuple(t: NativeCtTuple): ConntrackTuple {
  const out: ConntrackTuple = { src: t.src, dst: t.dst }
  for (const k of ['srcPort', 'dstPort', 'icmpId', 'icmpType', 'icmpCode', 'zone'] as const) {
    if (t[k] !== undefined) out[k] = t[k]
  }
  return out
}

/** A native entry in the public shape (exported for tests of the decoder). */
export function conntrackEntry(e: NativeCtEntry): ConntrackEntry {
  const status = e.status ?? 0
  const out: ConntrackEntry = {
    family: e.family,
    protocol: PROTOCOL_NAMES[e.orig.protocol] ?? e.orig.protocol,
    protocolNumber: e.orig.protocol,
    orig: tuple(e.orig),
    ...(e.reply ? { reply: tuple(e.reply) } : {}),
    status,
    flags: STATUS_BITS.filter((_, bit) => (status >>> bit) & 1),
    mark: e.mark ?? 0,
  }
  if (e.timeout !== undefined) out.timeout = e.timeout
  if (e.id !== undefined) out.id = e.id
  if (e.use !== undefined) out.use = e.use
  if (e.zone !== undefined) out.zone = e.zone
  if (e.tcpState !== undefined) out.tcpState = TCP_STATES[e.tcpState] ?? String(e.tcpState)
  return out
}

function describe(f: NativeCtFilter): string {
  const parts: string[] = []
  if (f.protocol !== undefined) parts.push(`-p ${PROTOCOL_NAMES[f.protocol] ?? f.protocol}`)
  if (f.origSrc) parts.push(`--orig-src ${f.origSrc}`)
  if (f.origDst) parts.push(`--orig-dst ${f.origDst}`)
  if (f.origDstPort !== undefined) parts.push(`--dport ${f.origDstPort}`)
  if (f.replySrc) parts.push(`--reply-src ${f.replySrc}`)
  if (f.replySrcPort !== undefined) parts.push(`--reply-port-src ${f.replySrcPort}`)
  if (f.family) parts.push(`-f ipv${f.family}`)
  return parts.join(' ')
}

/**
 * `ip netns exec NS conntrack -L [-f ipv4|ipv6] [-p PROTO] [--orig-dst A] [--dport P] ...`:
 * the conntrack entries of the namespace that match `filter`, read with one ctnetlink dump.
 * The namespace has entries only once netfilter tracks connections there (a rule, NAT, or
 * a `ct` expression in use).
 */
async function list(ns: Namespace, filter?: ConntrackFilter): Promise<ConntrackEntry[]> {
  checkNamespace(ns)
  const f = checkConntrackFilter(filter)
  return (await ctList(ns, f, describe(f))).map(conntrackEntry)
}

/**
 * `ip netns exec NS conntrack -D -p PROTO [--orig-dst A] [--dport P] ...`: deletes the
 * matching entries (one dump, then one pipelined batch of deletes, each by its original
 * tuple and its id so a newer connection that reuses the tuple is left alone). An entry that
 * expires meanwhile is not an error. Resolves with the number removed.
 *
 * The filter must name a protocol, an address or a port: this never flushes a whole table.
 * For published ports, delete by the HOST port (`origDstPort`) and the host address.
 */
async function del(ns: Namespace, filter: ConntrackFilter): Promise<number> {
  checkNamespace(ns)
  if (filter === undefined) throw invalidArg('filter', filter, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const f = checkConntrackFilter(filter)
  const { family: _family, ...selective } = f
  if (Object.keys(selective).length === 0) {
    throw invalidArg('filter', filter, 'must name a protocol, an address or a port (conntrack.delete never flushes a whole table)')
  }
  return ctDelete(ns, f, describe(f))
}

/** Connection tracking inside a namespace (ctnetlink, no `conntrack` tool involved). */
export const conntrack = { list, delete: del }
