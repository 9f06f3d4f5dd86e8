// Conntrack witnesses for the tests: the conntrack tool's text output and strace captures,
// parsed independently of the library.
import * as fs from 'node:fs'

/** One line of `conntrack -L [-o id]`, e.g.
 * `udp 17 29 src=10.0.0.1 dst=10.0.0.2 sport=4000 dport=5000 [UNREPLIED] src=... mark=0 use=1 id=123` */
export interface ToolEntry {
  protoName: string
  protoNum: number
  timeout: number
  tcpState?: string
  orig: Record<string, string>
  reply: Record<string, string>
  flags: string[]
  mark?: number
  use?: number
  id?: number
}

export function parseConntrackText(text: string): ToolEntry[] {
  const out: ToolEntry[] = []
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/)
    if (t.length < 4 || !/^\d+$/.test(t[1]!) || !/^\d+$/.test(t[2]!)) continue
    const e: ToolEntry = { protoName: t[0]!, protoNum: Number(t[1]), timeout: Number(t[2]), orig: {}, reply: {}, flags: [] }
    let dir: 'orig' | 'reply' | 'meta' = 'orig'
    for (const tok of t.slice(3)) {
      const flag = /^\[(\w+)\]$/.exec(tok)
      if (flag) {
        e.flags.push(flag[1]!)
        continue
      }
      const kv = /^([a-z_]+)=(.*)$/.exec(tok)
      if (!kv) {
        if (dir === 'orig' && !Object.keys(e.orig).length) e.tcpState = tok
        continue
      }
      const [, k, v] = kv as unknown as [string, string, string]
      if (k === 'src' && dir === 'orig' && 'src' in e.orig) dir = 'reply'
      if (k === 'mark' || k === 'use' || k === 'zone' || k === 'secctx') dir = 'meta'
      if (dir === 'meta') {
        if (k === 'mark') e.mark = Number(v)
        else if (k === 'use') e.use = Number(v)
        else if (k === 'id') e.id = Number(v)
        continue
      }
      e[dir][k] = v
    }
    out.push(e)
  }
  return out
}

/** One syscall of an strace capture made with `-e write=FD -e read=FD` (hex dumps). */
export interface Syscall {
  call: string
  fd: number
  bytes: Buffer
}

/** The syscalls of a capture with the bytes they sent or received, and the rest of its text. */
export function parseStrace(file: string): { calls: Syscall[]; text: string } {
  const calls: Syscall[] = []
  const text: string[] = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const call = /^(\w+)\((0x[0-9a-f]+|\d+),/.exec(line)
    if (call) {
      calls.push({ call: call[1]!, fd: Number(call[2]), bytes: Buffer.alloc(0) })
      continue
    }
    if (line.startsWith(' | ')) {
      // ' | 00000  14 00 00 00 01 01 01 03  9b 72 ...  ascii |': 16 bytes in columns 10..58
      const hex = line.slice(10, 59).match(/[0-9a-f]{2}/g) ?? []
      const last = calls[calls.length - 1]!
      last.bytes = Buffer.concat([last.bytes, Buffer.from(hex.join(''), 'hex')])
      continue
    }
    if (line.startsWith(' * ') || line.startsWith('#')) continue
    text.push(line)
  }
  return { calls, text: text.join('\n') }
}

/** Splits a netlink datagram into whole messages (nlmsghdr included). */
export function splitNetlink(buf: Buffer): Buffer[] {
  const out: Buffer[] = []
  let off = 0
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off)
    if (len < 16 || off + len > buf.length) throw new Error(`bad netlink message at ${off}`)
    out.push(buf.subarray(off, off + len))
    off += (len + 3) & ~3
  }
  return out
}

export const NLA_F_NESTED = 0x8000

/** Top-level attributes of a ctnetlink message (after nlmsghdr and nfgenmsg): [type, whole attribute bytes]. */
export function topAttrs(msg: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = []
  let off = 20
  while (off + 4 <= msg.length) {
    const len = msg.readUInt16LE(off)
    out.push([msg.readUInt16LE(off + 2) & 0x3fff, msg.subarray(off, off + ((len + 3) & ~3))])
    off += (len + 3) & ~3
  }
  return out
}

/**
 * A copy with every attribute's alignment padding set to zero, walking nests (NLA_F_NESTED).
 * libnetfilter_conntrack does not clear the padding of its reused buffer (the capture shows
 * stale bytes there); the kernel ignores padding, and our builder writes zeros.
 */
export function zeroPadding(msg: Buffer, attrsFrom = 20): Buffer {
  const out = Buffer.from(msg)
  const walk = (start: number, end: number) => {
    let off = start
    while (off + 4 <= end) {
      const len = out.readUInt16LE(off)
      const type = out.readUInt16LE(off + 2)
      if (len < 4 || off + len > end) throw new Error(`bad attribute at ${off}`)
      if (type & NLA_F_NESTED) walk(off + 4, off + len)
      const padded = Math.min((len + 3) & ~3, end - off)
      out.fill(0, off + len, off + padded)
      off += padded
    }
  }
  walk(attrsFrom, out.length)
  return out
}

/** A message made of `msg`'s nlmsghdr (sequence number 0) and nfgenmsg plus the given attributes. */
export function rebuild(msg: Buffer, attrs: Buffer[]): Buffer {
  const out = Buffer.concat([msg.subarray(0, 20), ...attrs])
  out.writeUInt32LE(out.length, 0)
  out.writeUInt32LE(0, 8)
  return out
}
