// Test-side netlink tools, written independently of native/nl: reading the strace captures in
// test/fixtures/rtnl/, splitting datagrams into messages, and a canonical, attribute-by-attribute
// form of rtnetlink messages so that ours and iproute2's can be compared field by field.
import * as fs from 'node:fs'
import * as path from 'node:path'

export const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'rtnl')

export const NLMSG_ERROR = 2
export const NLMSG_DONE = 3
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const

export interface Call {
  syscall: 'sendmsg' | 'sendto' | 'recvmsg'
  fd: number
  /** The bytes strace dumped (the whole datagram). */
  bytes: Buffer
}

export interface Capture {
  name: string
  command: string
  exitStatus: number
  /** ifindex of each link in HOST after the command ran. */
  ifindex: Record<string, number>
  calls: Call[]
}

export const DIAG_FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'diag')

/**
 * Reads test/fixtures/rtnl/NAME.txt (made by scripts/capture-rtnl-fixtures.sh), or a capture
 * in another folder of the same format (test/fixtures/diag/, scripts/capture-diag-fixtures.sh).
 */
export function readCapture(name: string, dir = FIXTURES): Capture {
  const text = fs.readFileSync(path.join(dir, `${name}.txt`), 'utf8')
  const cap: Capture = { name, command: '', exitStatus: -1, ifindex: {}, calls: [] }
  let cur: { syscall: Call['syscall']; fd: number; hex: string[] } | undefined
  const flush = () => {
    if (cur && cur.hex.length) cap.calls.push({ syscall: cur.syscall, fd: cur.fd, bytes: Buffer.from(cur.hex.join(''), 'hex') })
    cur = undefined
  }
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null
    if ((m = /^# command: (.*)$/.exec(line))) cap.command = m[1]!
    else if ((m = /^# exit status: (\d+)/.exec(line))) cap.exitStatus = Number(m[1])
    else if ((m = /^# ifindex in HOST after it: (.*)$/.exec(line))) {
      for (const kv of m[1]!.trim().split(/\s+/)) {
        const [k, v] = kv.split('=')
        if (k && v) cap.ifindex[k] = Number(v)
      }
    } else if ((m = /^(sendmsg|sendto|recvmsg)\((\d+),/.exec(line))) {
      flush()
      cur = { syscall: m[1] as Call['syscall'], fd: Number(m[2]), hex: [] }
    } else if (line.startsWith(' | ') && cur) {
      // " | 00000  54 00 00 00 10 00 05 06  ca 71 04 6b 00 00 00 00  T........q.k.... |"
      cur.hex.push(line.slice(10, 58).replace(/\s+/g, ''))
    } else if (/^(\+\+\+|---)/.test(line)) {
      flush()
    }
  }
  flush()
  return cap
}

export interface Msg {
  type: number
  flags: number
  seq: number
  pid: number
  bytes: Buffer
}

/**
 * Splits a datagram into netlink messages. Like the kernel's netlink_rcv_skb it stops at a
 * header whose nlmsg_len is below 16 (iproute2 sends its dump requests from a larger, zeroed
 * buffer); a length past the end throws (fixtures are trusted).
 */
export function splitMessages(buf: Buffer): Msg[] {
  const out: Msg[] = []
  let off = 0
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off)
    if (len < 16) break
    if (off + len > buf.length) throw new Error(`bad nlmsg_len ${len} at ${off}`)
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      bytes: buf.subarray(off, off + len),
    })
    off += (len + 3) & ~3
  }
  return out
}

/** The messages of `type` that iproute2 sent in a capture. */
export function sent(cap: Capture, type: number): Msg[] {
  return cap.calls
    .filter((c) => c.syscall !== 'recvmsg')
    .flatMap((c) => splitMessages(c.bytes))
    .filter((m) => m.type === type)
}

/** The messages the kernel answered with (recvmsg), in order. */
export function received(cap: Capture): Msg[] {
  return cap.calls.filter((c) => c.syscall === 'recvmsg').flatMap((c) => splitMessages(c.bytes))
}

/** The message with nlmsg_seq and nlmsg_pid zeroed: both depend on the socket, not on the request. */
export function masked(b: Buffer): Buffer {
  const c = Buffer.from(b)
  c.fill(0, 8, 16)
  return c
}

// ---- canonical form ------------------------------------------------------------------------

// Attribute names per nest, from <linux/if_link.h>, <linux/veth.h>, <linux/if_addr.h>, <linux/rtnetlink.h>,
// <linux/neighbour.h>.
const IFLA: Record<number, string> = {
  1: 'IFLA_ADDRESS',
  3: 'IFLA_IFNAME',
  5: 'IFLA_LINK',
  4: 'IFLA_MTU',
  10: 'IFLA_MASTER',
  18: 'IFLA_LINKINFO',
  20: 'IFLA_IFALIAS',
  27: 'IFLA_GROUP',
  28: 'IFLA_NET_NS_FD',
  29: 'IFLA_EXT_MASK',
}
const IFLA_INFO: Record<number, string> = { 1: 'IFLA_INFO_KIND', 2: 'IFLA_INFO_DATA', 4: 'IFLA_INFO_SLAVE_KIND', 5: 'IFLA_INFO_SLAVE_DATA' }
const VETH_INFO: Record<number, string> = { 1: 'VETH_INFO_PEER' }
const IFLA_BR: Record<number, string> = { 5: 'IFLA_BR_STP_STATE', 7: 'IFLA_BR_VLAN_FILTERING' }
const IFLA_BRPORT: Record<number, string> = { 4: 'IFLA_BRPORT_MODE', 33: 'IFLA_BRPORT_ISOLATED' }
const IFLA_MACVLAN: Record<number, string> = { 1: 'IFLA_MACVLAN_MODE', 2: 'IFLA_MACVLAN_FLAGS' }
const IFLA_VXLAN: Record<number, string> = {
  1: 'IFLA_VXLAN_ID',
  2: 'IFLA_VXLAN_GROUP',
  3: 'IFLA_VXLAN_LINK',
  4: 'IFLA_VXLAN_LOCAL',
  5: 'IFLA_VXLAN_TTL',
  6: 'IFLA_VXLAN_TOS',
  7: 'IFLA_VXLAN_LEARNING',
  8: 'IFLA_VXLAN_AGEING',
  9: 'IFLA_VXLAN_LIMIT',
  11: 'IFLA_VXLAN_PROXY',
  13: 'IFLA_VXLAN_L2MISS',
  14: 'IFLA_VXLAN_L3MISS',
  15: 'IFLA_VXLAN_PORT',
  16: 'IFLA_VXLAN_GROUP6',
  17: 'IFLA_VXLAN_LOCAL6',
  18: 'IFLA_VXLAN_UDP_CSUM',
}
const NDA: Record<number, string> = {
  1: 'NDA_DST',
  2: 'NDA_LLADDR',
  3: 'NDA_CACHEINFO',
  4: 'NDA_PROBES',
  5: 'NDA_VLAN',
  6: 'NDA_PORT',
  7: 'NDA_VNI',
  8: 'NDA_IFINDEX',
  9: 'NDA_MASTER',
  11: 'NDA_SRC_VNI',
}
const IFA: Record<number, string> = { 1: 'IFA_ADDRESS', 2: 'IFA_LOCAL', 3: 'IFA_LABEL', 4: 'IFA_BROADCAST', 6: 'IFA_CACHEINFO', 8: 'IFA_FLAGS' }
const RTA: Record<number, string> = {
  1: 'RTA_DST',
  2: 'RTA_SRC',
  4: 'RTA_OIF',
  5: 'RTA_GATEWAY',
  6: 'RTA_PRIORITY',
  7: 'RTA_PREFSRC',
  8: 'RTA_METRICS',
  15: 'RTA_TABLE',
  20: 'RTA_PREF',
}

interface Walk {
  names: Record<number, string>
  nested?: (name: string, kind: string | undefined) => Walk | 'ifinfomsg' | undefined
}

const linkWalk: Walk = {
  names: IFLA,
  nested: (n) => (n === 'IFLA_LINKINFO' ? linkInfoWalk : undefined),
}
const linkInfoWalk: Walk = {
  names: IFLA_INFO,
  nested: (n, kind) => {
    if (n === 'IFLA_INFO_DATA') {
      if (kind === 'veth') return { names: VETH_INFO, nested: (p) => (p === 'VETH_INFO_PEER' ? 'ifinfomsg' : undefined) }
      if (kind === 'macvlan') return { names: IFLA_MACVLAN }
      if (kind === 'vxlan') return { names: IFLA_VXLAN }
      return { names: IFLA_BR }
    }
    if (n === 'IFLA_INFO_SLAVE_DATA') return { names: IFLA_BRPORT }
    return undefined
  },
}

function walkAttrs(buf: Buffer, w: Walk, prefix: string, out: Map<string, string>): void {
  let off = 0
  let kind: string | undefined
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off)
    const type = buf.readUInt16LE(off + 2) & 0x3fff
    if (len < 4 || off + len > buf.length) throw new Error(`bad nla_len ${len} at ${prefix}+${off}`)
    const data = buf.subarray(off + 4, off + len)
    const name = `${prefix}${w.names[type] ?? `attr${type}`}`
    const short = w.names[type] ?? ''
    if (short === 'IFLA_INFO_KIND' || short === 'IFLA_INFO_SLAVE_KIND') kind = data.toString('latin1').replace(/\0+$/, '')
    const sub = w.nested?.(short, kind)
    if (sub === 'ifinfomsg') {
      out.set(`${name}/ifinfomsg`, data.subarray(0, 16).toString('hex'))
      walkAttrs(data.subarray(16), linkWalk, `${name}/`, out)
    } else if (sub) {
      walkAttrs(data, sub, `${name}/`, out)
    } else {
      if (out.has(name)) throw new Error(`attribute ${name} appears twice`)
      out.set(name, data.toString('hex'))
    }
    off += (len + 3) & ~3
  }
}

/**
 * A message as a map from attribute path to value in hex ('IFLA_LINKINFO/IFLA_INFO_DATA/
 * VETH_INFO_PEER/IFLA_IFNAME' -> '657468 3000'), plus 'nlmsg_type', 'nlmsg_flags' and the
 * family header. Sequence number, port id and lengths are left out (lengths follow from the
 * contents); attribute order is not part of it (the kernel does not depend on it).
 */
export function canonical(msg: Buffer): Map<string, string> {
  const out = new Map<string, string>()
  const type = msg.readUInt16LE(4)
  out.set('nlmsg_type', String(type))
  out.set('nlmsg_flags', '0x' + msg.readUInt16LE(6).toString(16))
  const body = msg.subarray(16, msg.readUInt32LE(0))
  if (type >= 16 && type <= 19) {
    out.set('ifinfomsg', body.subarray(0, 16).toString('hex'))
    walkAttrs(body.subarray(16), linkWalk, '', out)
  } else if (type >= 20 && type <= 23) {
    out.set('ifaddrmsg', body.subarray(0, 8).toString('hex'))
    walkAttrs(body.subarray(8), { names: IFA }, '', out)
  } else if (type >= 24 && type <= 27) {
    out.set('rtmsg', body.subarray(0, 12).toString('hex'))
    walkAttrs(body.subarray(12), { names: RTA }, '', out)
  } else if (type >= 28 && type <= 30) {
    out.set('ndmsg', body.subarray(0, 12).toString('hex'))
    walkAttrs(body.subarray(12), { names: NDA }, '', out)
  } else {
    throw new Error(`not an rtnetlink request: type ${type}`)
  }
  return out
}

/** The top-level attribute types of a message, in order (to tell whether the order matches). */
export function attrOrder(msg: Buffer, familyHeaderLen: number): number[] {
  const types: number[] = []
  let off = 16 + familyHeaderLen
  const end = msg.readUInt32LE(0)
  while (off + 4 <= end) {
    const len = msg.readUInt16LE(off)
    types.push(msg.readUInt16LE(off + 2))
    off += (len + 3) & ~3
  }
  return types
}

// ---- building messages for decoder tests --------------------------------------------------

export function nla(type: number, data: Buffer | string | number[]): Buffer {
  const d = typeof data === 'string' ? Buffer.from(data + '\0', 'latin1') : Buffer.from(data)
  const b = Buffer.alloc((4 + d.length + 3) & ~3)
  b.writeUInt16LE(4 + d.length, 0)
  b.writeUInt16LE(type, 2)
  d.copy(b, 4)
  return b
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v >>> 0)
  return b
}

/** nlmsghdr + family header + attributes, with nlmsg_len set. */
export function nlmsg(type: number, familyHeader: Buffer, attrs: Buffer[], flags = 0): Buffer {
  const body = Buffer.concat([familyHeader, ...attrs])
  const h = Buffer.alloc(16)
  h.writeUInt32LE(16 + body.length, 0)
  h.writeUInt16LE(type, 4)
  h.writeUInt16LE(flags, 6)
  return Buffer.concat([h, body])
}
