// Builders for the nftables expressions netns-kit's rules are made of, in the exact shapes
// `nft --debug=netlink` shows for the same rule text, and the matching decoders.
import { ipToBytes, maskBytes, prefixBounds } from '../ipam/ip'
import type { NftExpr } from '../kernel/binding'

/** Kernel register numbers: NFT_REG_VERDICT, NFT_REG_1 (16 bytes), and the 32-bit registers. */
export const REG_VERDICT = 0
export const REG_1 = 1
export const REG_2 = 2
export const REG32 = (n: number): number => 8 + n

/** NFPROTO_* values of `meta nfproto`. */
const NFPROTO = { 4: 2, 6: 10 } as const
/** IPPROTO_* values of `meta l4proto`. */
export const L4PROTO = { tcp: 6, udp: 17, sctp: 132 } as const
export type L4Name = keyof typeof L4PROTO

/** A 16-byte, NUL-padded interface name as `meta iifname/oifname` loads it. */
export function ifnameBytes(name: string): Buffer {
  const b = Buffer.alloc(16)
  b.write(name, 'utf8')
  return b
}

export function ifnameString(b: Buffer): string {
  const nul = b.indexOf(0)
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8')
}

/** A value padded to a 4-byte register slot (concatenation fields). */
export function padded(b: Buffer): Buffer {
  const len = Math.ceil(b.length / 4) * 4
  if (len === b.length) return b
  const out = Buffer.alloc(len)
  b.copy(out)
  return out
}

export function portBytes(port: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(port)
  return b
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v) // host order, as the kernel keeps meta/ct values
  return b
}

// --- matches --------------------------------------------------------------------------

/** `meta nfproto ipv4|ipv6` (implied by `ip`/`ip6` matches in an inet table). */
export function nfproto(family: 4 | 6): NftExpr[] {
  return [
    { type: 'meta', key: 'nfproto', dreg: REG_1 },
    { type: 'cmp', sreg: REG_1, op: 'eq', data: Buffer.from([NFPROTO[family]]) },
  ]
}

/**
 * `ip saddr|daddr CIDR` / `ip6 saddr|daddr CIDR` (after nfproto), as nft encodes it: a prefix on a
 * byte boundary is one payload load of the prefix's bytes and a compare; any other prefix loads
 * the whole address, masks it and compares.
 */
export function addrMatch(family: 4 | 6, which: 'saddr' | 'daddr', address: string, prefixLength: number, op: 'eq' | 'neq' = 'eq'): NftExpr[] {
  const offset = family === 4 ? (which === 'saddr' ? 12 : 16) : which === 'saddr' ? 8 : 24
  const full = ipToBytes(address)
  if (prefixLength === 0) return []
  if (prefixLength % 8 === 0) {
    const bytes = prefixLength / 8
    return [
      { type: 'payload', base: 'network', offset, len: bytes, dreg: REG_1 },
      { type: 'cmp', sreg: REG_1, op, data: Buffer.from(full.subarray(0, bytes)) },
    ]
  }
  const len = full.length
  const mask = maskBytes(family, prefixLength)
  const value = ipToBytes(prefixBounds(address, prefixLength).first)
  return [
    { type: 'payload', base: 'network', offset, len, dreg: REG_1 },
    { type: 'bitwise', sreg: REG_1, dreg: REG_1, len, mask, xor: Buffer.alloc(len) },
    { type: 'cmp', sreg: REG_1, op, data: value },
  ]
}

/** `iifname|oifname [!=] NAME` */
export function ifMatch(which: 'iifname' | 'oifname', name: string, op: 'eq' | 'neq' = 'eq'): NftExpr[] {
  return [
    { type: 'meta', key: which, dreg: REG_1 },
    { type: 'cmp', sreg: REG_1, op, data: ifnameBytes(name) },
  ]
}

/** `iifname|oifname [!=] @SET` (a set of interface names). */
export function ifInSet(which: 'iifname' | 'oifname', set: string, invert = false): NftExpr[] {
  return [
    { type: 'meta', key: which, dreg: REG_1 },
    { type: 'lookup', sreg: REG_1, set, ...(invert ? { invert: true } : {}) },
  ]
}

/** `iifname . oifname [!=] @SET` (a set of interface name pairs). */
export function ifPairInSet(set: string, invert = false): NftExpr[] {
  return [
    { type: 'meta', key: 'iifname', dreg: REG_1 },
    { type: 'meta', key: 'oifname', dreg: REG_2 },
    { type: 'lookup', sreg: REG_1, set, ...(invert ? { invert: true } : {}) },
  ]
}

/**
 * `iifname . <payload> [!=] @SET`: the input interface and `len` bytes of a header (the
 * bridge family's anti-spoofing lookups: `iifname . ether saddr`, `iifname . ip saddr`, ...).
 */
export function ifPayloadInSet(base: 'll' | 'network' | 'transport', offset: number, len: number, set: string, invert = false): NftExpr[] {
  return [
    { type: 'meta', key: 'iifname', dreg: REG_1 },
    { type: 'payload', base, offset, len, dreg: REG_2 },
    { type: 'lookup', sreg: REG_1, set, ...(invert ? { invert: true } : {}) },
  ]
}

/** `<payload> [!=] @SET`: `len` bytes of a header looked up in a set (`ether type != @etypes`). */
export function payloadInSet(base: 'll' | 'network' | 'transport', offset: number, len: number, set: string, invert = false): NftExpr[] {
  return [
    { type: 'payload', base, offset, len, dreg: REG_1 },
    { type: 'lookup', sreg: REG_1, set, ...(invert ? { invert: true } : {}) },
  ]
}

/** `<payload> ==|!= VALUE` (value in packet order, at most 16 bytes). */
export function payloadCmp(base: 'll' | 'network' | 'transport', offset: number, value: Buffer, op: 'eq' | 'neq' = 'eq'): NftExpr[] {
  return [
    { type: 'payload', base, offset, len: value.length, dreg: REG_1 },
    { type: 'cmp', sreg: REG_1, op, data: value },
  ]
}

/** `meta l4proto ==|!= N` */
export function l4proto(n: number, op: 'eq' | 'neq' = 'eq'): NftExpr[] {
  return [
    { type: 'meta', key: 'l4proto', dreg: REG_1 },
    { type: 'cmp', sreg: REG_1, op, data: Buffer.from([n]) },
  ]
}

/** `ct status dnat` */
export function ctStatusDnat(): NftExpr[] {
  return [
    { type: 'ct', key: 'status', dreg: REG_1 },
    { type: 'bitwise', sreg: REG_1, dreg: REG_1, len: 4, mask: u32(0x20), xor: u32(0) },
    { type: 'cmp', sreg: REG_1, op: 'neq', data: u32(0) },
  ]
}

/** `ct state established,related` */
export function ctStateEstablished(): NftExpr[] {
  return [
    { type: 'ct', key: 'state', dreg: REG_1 },
    { type: 'bitwise', sreg: REG_1, dreg: REG_1, len: 4, mask: u32(0x06), xor: u32(0) },
    { type: 'cmp', sreg: REG_1, op: 'neq', data: u32(0) },
  ]
}

/** `fib daddr type local` */
export function fibDaddrLocal(): NftExpr[] {
  const NFTA_FIB_F_DADDR = 1 << 1
  const RTN_LOCAL = 2
  return [
    { type: 'fib', result: 'addrtype', flags: NFTA_FIB_F_DADDR, dreg: REG_1 },
    { type: 'cmp', sreg: REG_1, op: 'eq', data: u32(RTN_LOCAL) },
  ]
}

export function verdict(code: 'accept' | 'drop' | 'return' | 'jump' | 'goto', chain?: string): NftExpr {
  return { type: 'immediate', dreg: REG_VERDICT, verdict: chain ? { code, chain } : { code } }
}

/**
 * `dnat ip to [ip daddr .] meta l4proto . th dport map @MAP` (the lookup and nat of a published
 * port). With `byAddress`, the key starts with the destination address.
 */
export function dnatByMap(family: 4 | 6, map: string, byAddress: boolean): NftExpr[] {
  const out: NftExpr[] = []
  // Register layout as nft emits it: the key is built in consecutive 32-bit registers from
  // REG_1 (REG32_00), the map's data (address . port) lands in REG_1 too.
  let next = REG32(0)
  if (byAddress) {
    out.push({ type: 'payload', base: 'network', offset: family === 4 ? 16 : 24, len: family === 4 ? 4 : 16, dreg: REG_1 })
    next += family === 4 ? 1 : 4
  }
  out.push({ type: 'meta', key: 'l4proto', dreg: next === REG32(0) ? REG_1 : regFor(next) })
  next += 1
  out.push({ type: 'payload', base: 'transport', offset: 2, len: 2, dreg: regFor(next) })
  out.push({ type: 'lookup', sreg: REG_1, set: map, dreg: REG_1 })
  out.push({ type: 'nat', natType: 'dnat', family: family === 4 ? 'ip' : 'ip6', regAddrMin: REG_1, regProtoMin: family === 4 ? REG32(1) : REG_2 })
  return out
}

/** nft names a 32-bit register on a 16-byte boundary by its 16-byte register (REG32_04 is reg 2). */
function regFor(reg32: number): number {
  const n = reg32 - 8
  return n % 4 === 0 ? 1 + n / 4 : reg32
}

/** `oifname . ip saddr @SET` (ip6 saddr for 6): the interface and the source behind it. */
export function hairpinLookup(family: 4 | 6, set: string): NftExpr[] {
  return [
    { type: 'meta', key: 'oifname', dreg: REG_1 },
    { type: 'payload', base: 'network', offset: family === 4 ? 12 : 8, len: family === 4 ? 4 : 16, dreg: REG_2 },
    { type: 'lookup', sreg: REG_1, set },
  ]
}

// --- userdata -------------------------------------------------------------------------

/** nft's comment userdata (NFTNL_UDATA_*_COMMENT): type 0, length, NUL-terminated text. */
export function comment(text: string): Buffer {
  const body = Buffer.from(text + '\0', 'utf8')
  if (body.length > 128) throw new RangeError(`comment too long: ${text}`)
  return Buffer.concat([Buffer.from([0, body.length]), body])
}

/** The comment in a userdata blob, or undefined. */
export function commentOf(userdata: Buffer | undefined): string | undefined {
  if (!userdata) return undefined
  let i = 0
  while (i + 2 <= userdata.length) {
    const type = userdata[i]!,
      len = userdata[i + 1]!
    if (i + 2 + len > userdata.length) return undefined
    if (type === 0) {
      const v = userdata.subarray(i + 2, i + 2 + len)
      const nul = v.indexOf(0)
      return v.subarray(0, nul < 0 ? v.length : nul).toString('utf8')
    }
    i += 2 + len
  }
  return undefined
}
