// IP addresses and prefixes as bigints: parsing, canonical text, containment and overlap.
import * as net from 'node:net'
import { invalidArg } from '../errors'

export type Family = 4 | 6

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface Ip {
  family: Family
  value: bigint
}

/** A network prefix with its host bits zero ('172.18.0.0/16'). */
export interface Prefix {
  family: Family
  /** The first address (host bits zero). */
  network: bigint
  prefixLength: number
}

export function bitsOf(family: Family): number {
  return family === 4 ? 32 : 128
}

/** Parses an IPv4 or IPv6 address (no zone id); throws ERR_INVALID_ARG_VALUE. */
export function parseIp(text: unknown, arg = 'address'): Ip {
  if (typeof text !== 'string') throw invalidArg(arg, text, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const family = net.isIP(text)
  if (family === 4) {
    let v = 0n
    for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part))
    return { family: 4, value: v }
  }
  if (family === 6 && !text.includes('%')) {
    let s = text.toLowerCase()
    // An embedded IPv4 tail ('::ffff:10.0.0.1') becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)
    if (v4) {
      const n = parseIp(v4[1]!, arg).value
      s = s.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
    }
    const [head, tail] = s.split('::') as [string, string | undefined]
    const h = head ? head.split(':') : []
    const t = tail ? tail.split(':') : []
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
    let v = 0n
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16))
    return { family: 6, value: v }
  }
  throw invalidArg(arg, text, 'must be a valid IPv4 or IPv6 address')
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, the longest run of zero groups as '::'). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const v = ip.value
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.')
  }
  const groups: number[] = []
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn))
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestLen < 2) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** The canonical text of an address given as text. */
export function canonicalIp(text: string, arg = 'address'): string {
  return formatIp(parseIp(text, arg))
}

function maskOf(family: Family, prefixLength: number): bigint {
  const bits = BigInt(bitsOf(family))
  const host = bits - BigInt(prefixLength)
  return ((1n << bits) - 1n) ^ ((1n << host) - 1n)
}

/**
 * Parses 'ADDR/LEN'. With `strict` (subnets), host bits must be zero: '172.18.0.5/16' is
 * refused with a hint, as a typo there would silently change the network.
 */
export function parsePrefix(text: unknown, arg = 'subnet', strict = true): Prefix {
  if (typeof text !== 'string') throw invalidArg(arg, text, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const slash = text.indexOf('/')
  if (slash < 0) throw invalidArg(arg, text, "must be a prefix like '172.18.0.0/16' or 'fd00:1::/64'")
  const ip = parseIp(text.slice(0, slash), arg)
  const lenText = text.slice(slash + 1)
  const max = bitsOf(ip.family)
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) throw invalidArg(arg, text, `must have a prefix length from 0 to ${max}`)
  const prefixLength = Number(lenText)
  const network = ip.value & maskOf(ip.family, prefixLength)
  if (strict && network !== ip.value) {
    throw invalidArg(arg, text, `has host bits set (the network is ${formatPrefix({ family: ip.family, network, prefixLength })})`)
  }
  return { family: ip.family, network, prefixLength }
}

export function formatPrefix(p: Prefix): string {
  return `${formatIp({ family: p.family, value: p.network })}/${p.prefixLength}`
}

/** Number of addresses in the prefix. */
export function sizeOf(p: Prefix): bigint {
  return 1n << BigInt(bitsOf(p.family) - p.prefixLength)
}

/** The last address of the prefix (the IPv4 broadcast address). */
export function lastOf(p: Prefix): bigint {
  return p.network + sizeOf(p) - 1n
}

export function contains(p: Prefix, ip: Ip): boolean {
  return p.family === ip.family && ip.value >= p.network && ip.value <= lastOf(p)
}

/** Whether `inner` lies entirely inside `outer`. */
export function within(inner: Prefix, outer: Prefix): boolean {
  return inner.family === outer.family && inner.prefixLength >= outer.prefixLength && contains(outer, { family: inner.family, value: inner.network })
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return a.family === b.family && a.network <= lastOf(b) && b.network <= lastOf(a)
}

/** An address's bytes in network order: 4 for IPv4, 16 for IPv6 (as netlink and nftables carry it). */
export function ipToBytes(text: string, arg = 'address'): Buffer {
  const ip = parseIp(text, arg)
  const b = Buffer.alloc(ip.family === 4 ? 4 : 16)
  let v = ip.value
  for (let i = b.length - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return b
}

/** The canonical text of an address given as its bytes in network order (4 or 16 of them). */
export function ipFromBytes(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) throw invalidArg('bytes', b, 'must be 4 (IPv4) or 16 (IPv6) bytes long')
  // IPv4 without BigInt: NatRule.list() formats one per mapping (10,000 and more).
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`
  let v = 0n
  for (const x of b) v = (v << 8n) | BigInt(x)
  return formatIp({ family: 6, value: v })
}

/** The netmask of a prefix length as bytes in network order (4 or 16): /20 is ff ff f0 00. */
export function maskBytes(family: Family, prefixLength: number): Buffer {
  const b = Buffer.alloc(family === 4 ? 4 : 16)
  let v = maskOf(family, prefixLength)
  for (let i = b.length - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return b
}

/** The first and the last address of the prefix of `prefixLength` bits that holds `address`. */
export function prefixBounds(address: string, prefixLength: number): { first: string; last: string } {
  const ip = parseIp(address)
  const p: Prefix = { family: ip.family, network: ip.value & maskOf(ip.family, prefixLength), prefixLength }
  return { first: formatIp({ family: p.family, value: p.network }), last: formatIp({ family: p.family, value: lastOf(p) }) }
}

/** A loopback address: 127.0.0.0/8 or ::1. */
export function isLoopbackIp(text: string): boolean {
  const ip = parseIp(text)
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n
}
