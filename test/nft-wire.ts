// Test-side netlink reader for nf_tables goldens: reads the byte dumps that strace prints,
// splits batches into messages and messages into attribute trees, and prints them one
// attribute a line so two encodings can be compared attribute by attribute.
import type { NftExpr, NftVerdict } from '../lib/kernel/binding'

/** The buffers of every sendmsg in `strace -x -e trace=sendmsg -e write=all` output. */
export function straceBuffers(text: string): Buffer[] {
  const out: Buffer[] = []
  let cur: number[] | null = null
  for (const line of text.split('\n')) {
    if (/^\s*\* \d+ bytes in buffer/.test(line)) {
      if (cur) out.push(Buffer.from(cur))
      cur = []
      continue
    }
    const m = /^\s*\| [0-9a-f]{5} {2}((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line)
    if (m && cur) {
      for (const h of m[1]!.trim().split(/\s+/)) cur.push(parseInt(h, 16))
      continue
    }
    if (cur && !/^\s*\|/.test(line)) {
      out.push(Buffer.from(cur))
      cur = null
    }
  }
  if (cur) out.push(Buffer.from(cur))
  return out
}

export interface NlMsg {
  type: number
  flags: number
  seq: number
  pid: number
  payload: Buffer
}

/** Splits a datagram into netlink messages (header fields in host order). */
export function splitMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = []
  let off = 0
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off)
    if (len < 16 || off + len > buf.length) throw new Error(`bad nlmsg_len ${len} at ${off}`)
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + 16, off + len),
    })
    off += (len + 3) & ~3
  }
  return out
}

export interface AttrNode {
  type: number
  nested: boolean
  data: Buffer
  children?: AttrNode[]
}

/** Attributes of `buf`; a nest (NLA_F_NESTED, as nf_tables marks them) is parsed recursively. */
export function attrs(buf: Buffer): AttrNode[] {
  const out: AttrNode[] = []
  let off = 0
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off)
    const t = buf.readUInt16LE(off + 2)
    if (len < 4 || off + len > buf.length) throw new Error(`bad nla_len ${len} at ${off}`)
    const data = buf.subarray(off + 4, off + len)
    const node: AttrNode = { type: t & 0x3fff, nested: (t & 0x8000) !== 0, data }
    if (node.nested) node.children = attrs(data)
    out.push(node)
    off += (len + 3) & ~3
  }
  return out
}

/** One line per attribute: path of types, N for nests, then the bytes (the padding included). */
export function describe(nodes: AttrNode[], prefix = ''): string[] {
  const lines: string[] = []
  for (const n of nodes) {
    const p = `${prefix}${n.type}${n.nested ? 'N' : ''}`
    if (n.children) {
      lines.push(`${p} len=${n.data.length}`)
      lines.push(...describe(n.children, `${p}.`))
    } else {
      lines.push(
        `${p} ${n.data
          .toString('hex')
          .replace(/(.{8})/g, '$1 ')
          .trim()}`,
      )
    }
  }
  return lines
}

/** A message as text: type, flags, the nfgenmsg header, then its attributes. */
export function describeMessage(m: NlMsg, opts: { ignoreFlags?: number } = {}): string[] {
  const flags = m.flags & ~(opts.ignoreFlags ?? 0)
  const head = `type=0x${m.type.toString(16)} flags=0x${flags.toString(16)} nfgen=${m.payload.subarray(0, 4).toString('hex')}`
  return [head, ...describe(attrs(m.payload.subarray(4)))]
}

// --- values as nft writes them -----------------------------------------------------------

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
/** An interface name as meta iifname/oifname compare it: 16 bytes, NUL-padded. */
export const ifname = (s: string): Buffer => {
  const b = Buffer.alloc(16)
  b.write(s)
  return b
}

/** `ip saddr 172.18.0.0/16 oifname != "br0" masquerade` in an ip table, as nft encodes it (fixture masquerade). */
export const masqueradeRule: NftExpr[] = [
  { type: 'payload', base: 'network', offset: 12, len: 2, dreg: 1 },
  { type: 'cmp', sreg: 1, op: 'eq', data: hex('ac12') },
  { type: 'meta', key: 'oifname', dreg: 1 },
  { type: 'cmp', sreg: 1, op: 'neq', data: ifname('br0') },
  { type: 'masq' },
]
/** nft's comment TLV (NFTNL_UDATA_*_COMMENT = 0, length, the string with its NUL): nft shows it as `comment "..."`. */
export const comment = (s: string): Buffer => Buffer.concat([Buffer.from([0, s.length + 1]), Buffer.from(`${s}\0`)])

/**
 * An expression as our decoder gives it back (see NftExpr's TSDoc): nat and redir leave out
 * the flags their registers imply. With `kernel`, also what a dump adds or drops: counters
 * hold live counts (0 in a fresh namespace), lookups have no setId.
 */
export function canonical(e: NftExpr, kernel = false): NftExpr {
  const x = { ...e } as Record<string, unknown>
  if (e.type === 'nat' || e.type === 'redir') {
    let flags = (x.flags as number | undefined) ?? 0
    if (e.type === 'nat' && x.regAddrMin !== undefined) flags &= ~1
    if (x.regProtoMin !== undefined) flags &= ~2
    if (flags) x.flags = flags
    else delete x.flags
  }
  if (kernel && e.type === 'counter') return { type: 'counter', bytes: (x.bytes as bigint | undefined) ?? 0n, packets: (x.packets as bigint | undefined) ?? 0n }
  if (kernel && e.type === 'lookup') delete x.setId
  return x as NftExpr
}

// --- nft --debug=netlink text, from our own expression shapes ----------------------------
// Renders expressions the way libnftnl prints them (`[ cmp eq reg 1 0x000012ac ]`), so the
// rules we encode can be compared with what nft printed for the same rule.

/** Data as libnftnl prints it: 32-bit words, each read in host (little-endian) order, zero-padded. */
export function words(data: Buffer, prefix = '0x'): string {
  const out: string[] = []
  for (let i = 0; i < data.length; i += 4) {
    const w = Buffer.alloc(4)
    data.copy(w, 0, i, Math.min(i + 4, data.length))
    out.push(prefix + w.readUInt32LE(0).toString(16).padStart(8, '0'))
  }
  return out.join(' ')
}

const META_NAMES: Record<string, string> = {
  ibrname: 'bri_iifname',
  obrname: 'bri_oifname',
  random: 'prandom',
  ibrpvid: 'bri_iifpvid',
  ibrvproto: 'bri_iifvproto',
}
const CT_NAMES: Record<string, string> = {
  'proto-src': 'proto_src',
  'proto-dst': 'proto_dst',
  labels: 'label',
  'src-ip': 'src_ip',
  'dst-ip': 'dst_ip',
  'src-ip6': 'src_ip6',
  'dst-ip6': 'dst_ip6',
  id: 'ct_id',
}
const BASES: Record<string, string> = { ll: 'link', network: 'network', transport: 'transport', inner: 'inner' }

function verdict(v: NftVerdict): string {
  return v.chain ? `${v.code} -> ${v.chain}` : v.code
}

function natRegs(e: { regAddrMin?: number; regAddrMax?: number; regProtoMin?: number; regProtoMax?: number; flags?: number }): string {
  let s = ''
  if (e.regAddrMin !== undefined) s += ` addr_min reg ${e.regAddrMin}`
  if (e.regAddrMax !== undefined) s += ` addr_max reg ${e.regAddrMax}`
  if (e.regProtoMin !== undefined) s += ` proto_min reg ${e.regProtoMin}`
  if (e.regProtoMax !== undefined) s += ` proto_max reg ${e.regProtoMax}`
  if (e.flags !== undefined && e.flags !== 0) s += ` flags 0x${e.flags.toString(16)}`
  return s
}

/** One expression in `nft --debug=netlink` syntax (whitespace collapsed). */
export function debugLine(e: NftExpr): string {
  const x = e as any
  let s: string
  switch (e.type) {
    case 'payload':
      s = `payload load ${x.len}b @ ${BASES[x.base]} header + ${x.offset} => reg ${x.dreg}`
      break
    case 'cmp':
      s = `cmp ${x.op} reg ${x.sreg} ${words(x.data)}`
      break
    case 'meta':
      s = x.dreg !== undefined ? `meta load ${META_NAMES[x.key] ?? x.key} => reg ${x.dreg}` : `meta set ${META_NAMES[x.key] ?? x.key} with reg ${x.sreg}`
      break
    case 'bitwise':
      s = `bitwise reg ${x.dreg} = ( reg ${x.sreg} & ${words(x.mask)} ) ^ ${words(x.xor)}`
      break
    case 'immediate':
      s = `immediate reg ${x.dreg ?? 0} ${x.verdict ? verdict(x.verdict) : words(x.data)}`
      break
    case 'lookup':
      s = `lookup reg ${x.sreg} set ${x.set}${x.dreg !== undefined ? ` dreg ${x.dreg}` : ''}${x.invert ? ' 0x1' : ''}`
      break
    case 'ct':
      s = `ct load ${CT_NAMES[x.key] ?? x.key} => reg ${x.dreg}${x.direction !== undefined ? ` , dir ${x.direction ? 'reply' : 'original'}` : ''}`
      break
    case 'fib': {
      const f = ['saddr', 'daddr', 'mark', 'iif', 'oif'].filter((_, i) => x.flags & (1 << i))
      s = `fib ${f.join(' ')} ${x.result === 'addrtype' ? 'type' : x.result}${x.flags & 32 ? ' present' : ''} => reg ${x.dreg}`
      break
    }
    case 'nat':
      s = `nat ${x.natType} ${x.family}${natRegs(x)}`
      break
    case 'masq':
      s = `masq${natRegs(x)}`
      break
    case 'redir':
      s = `redir${natRegs(x)}`
      break
    case 'counter':
      s = `counter pkts ${x.packets ?? 0n} bytes ${x.bytes ?? 0n}`
      break
    case 'range':
      s = `range ${x.op} reg ${x.sreg} ${words(x.from)} ${words(x.to)}`
      break
    default:
      s = `${e.type} (raw)`
  }
  return `[ ${s} ]`.replace(/\s+/g, ' ')
}

/** The rule blocks of a `nft --debug=netlink` capture: each rule's expression lines. */
export function debugRules(text: string): string[][] {
  const rules: string[][] = []
  let cur: string[] | null = null
  for (const line of text.split('\n')) {
    if (/^\s+\[ /.test(line)) {
      if (!cur) rules.push((cur = []))
      cur.push(line.trim().replace(/\s+/g, ' '))
    } else {
      cur = null
    }
  }
  return rules
}

/** The rule blocks of a `nft --debug=netlink` capture with where each is ("inet netns-kit forward"). */
export function debugRulesWhere(text: string): { where: string; lines: string[] }[] {
  const rules: { where: string; lines: string[] }[] = []
  let cur: string[] | null = null
  let where = ''
  for (const line of text.split('\n')) {
    if (/^\s+\[ /.test(line)) {
      if (!cur) rules.push({ where, lines: (cur = []) })
      cur.push(line.trim().replace(/\s+/g, ' '))
    } else {
      cur = null
      if (/^\S+ \S+ \S+$/.test(line.trim())) where = line.trim()
    }
  }
  return rules
}
