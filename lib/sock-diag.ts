// The sockets of a namespace that hold ports (`ss -ltnu`), over sock_diag netlink
// (NETLINK_SOCK_DIAG, inet_diag) from the addon: listening TCP and SCTP sockets, unconnected
// (bound) UDP sockets, IPv4 and IPv6, wildcard and specific addresses. No `ss`, no /proc/net
// parsing: the kernel filters by state and, when asked, by port (INET_DIAG bytecode, as
// `ss 'sport = :P'`), so checking one port does not return every socket of the namespace.
import * as fs from 'node:fs/promises'
import * as net from 'node:net'
import { sockDiag, type NativeSock, type NativeSockQuery } from './kernel/diag'
import { NetnsKitError, invalidArg } from './errors'
import { toError } from './kernel/errors'
import { checkInt } from './validate'
import type { Namespace } from './namespace'

export type SocketProtocol = 'tcp' | 'udp' | 'sctp'

export interface SocketFilter {
  /** Which protocols (default: all three; SCTP as far as the kernel has it, see listSockets). */
  protocol?: SocketProtocol | readonly SocketProtocol[]
  /** One family (default: both). An IPv6 socket without v6only also holds the IPv4 port: see socketOverlaps(). */
  family?: 4 | 6
  /** Only sockets on this local port, or in this inclusive range, filtered by the kernel. */
  port?: number | { from: number; to: number }
}

/** A socket holding a port, as `ss -ltnu -e` shows it. */
export interface SocketRecord {
  protocol: SocketProtocol
  family: 4 | 6
  /** 'listen' (TCP, SCTP) or 'unconn' (a bound, unconnected UDP socket), as ss names them. */
  state: 'listen' | 'unconn'
  /** The local address: '0.0.0.0' or '::' for a wildcard socket. */
  address: string
  port: number
  /** Bound to every address of its family ('0.0.0.0', '::'). */
  wildcard: boolean
  /**
   * IPv6 sockets: IPV6_V6ONLY. A wildcard IPv6 socket without it also takes the port for IPv4
   * (it accepts v4-mapped connections).
   */
  v6only?: boolean
  /** ifindex of the device the socket is bound to (SO_BINDTODEVICE, `%dev` in ss), when bound. */
  devIndex?: number
  uid: number
  /** The socket's inode: socketOwners() maps it to processes. */
  inode: number
  /** The kernel's socket cookie (SO_COOKIE). */
  cookie: bigint
  /** Listening: connections waiting to be accepted; others: bytes queued (ss Recv-Q). */
  recvQ: number
  /** Listening: the backlog; others: bytes queued to send (ss Send-Q). */
  sendQ: number
  /** SCTP: every local address of the endpoint (multi-homing). */
  localAddresses?: string[]
}

const PROTOCOLS: readonly SocketProtocol[] = ['tcp', 'udp', 'sctp']
const STATE: Record<number, SocketRecord['state']> = { 10: 'listen', 7: 'unconn' }
const ENOENT = -2
/** 1 << TCP_LISTEN (<net/tcp_states.h>), inet_diag's state bit for listening sockets. */
const TCPF_LISTEN = 1 << 10
/** The diag module behind each protocol, for messages. */
const DIAG_MODULE: Record<SocketProtocol, string> = {
  tcp: 'tcp_diag (CONFIG_INET_TCP_DIAG)',
  udp: 'udp_diag (CONFIG_INET_UDP_DIAG)',
  sctp: 'sctp_diag (CONFIG_INET_SCTP_DIAG)',
}

function checkFilter(filter: unknown): { protocols: SocketProtocol[]; families: (4 | 6)[]; port?: number; range?: [number, number] } {
  if (filter === undefined) return { protocols: [...PROTOCOLS], families: [4, 6] }
  if (filter === null || typeof filter !== 'object') throw invalidArg('filter', filter, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const f = filter as SocketFilter
  let protocols: SocketProtocol[] = [...PROTOCOLS]
  if (f.protocol !== undefined) {
    const list = typeof f.protocol === 'string' ? [f.protocol] : f.protocol
    if (!Array.isArray(list) || list.length === 0 || list.some((p) => !PROTOCOLS.includes(p))) {
      throw invalidArg('filter.protocol', f.protocol, "must be 'tcp', 'udp', 'sctp' or a non-empty array of them")
    }
    protocols = PROTOCOLS.filter((p) => list.includes(p))
  }
  if (f.family !== undefined && f.family !== 4 && f.family !== 6) throw invalidArg('filter.family', f.family, 'must be 4 or 6')
  const families: (4 | 6)[] = f.family ? [f.family] : [4, 6]
  if (f.port === undefined) return { protocols, families }
  if (typeof f.port === 'number') return { protocols, families, port: checkInt(f.port, 'filter.port', 1, 65535) }
  if (f.port === null || typeof f.port !== 'object') throw invalidArg('filter.port', f.port, 'must be a port number or { from, to }', 'ERR_INVALID_ARG_TYPE')
  const from = checkInt(f.port.from, 'filter.port.from', 1, 65535)
  const to = checkInt(f.port.to, 'filter.port.to', from, 65535)
  return { protocols, families, range: [from, to] }
}

/** Whether the kernel has `protocol` at all (/proc/net/protocols lists every registered one). */
async function protocolLoaded(protocol: SocketProtocol): Promise<boolean> {
  const text = await fs.readFile('/proc/net/protocols', 'utf8').catch(() => '')
  return new RegExp(`^${protocol.toUpperCase()}\\s`, 'm').test(text)
}

function record(s: NativeSock): SocketRecord | undefined {
  const state = STATE[s.state]
  if (!state || typeof s.protocol !== 'string') return undefined
  const r: SocketRecord = {
    protocol: s.protocol,
    family: s.family,
    state,
    address: s.address,
    port: s.port,
    wildcard: s.address === '0.0.0.0' || s.address === '::',
    uid: s.uid,
    inode: s.inode,
    cookie: s.cookie,
    recvQ: s.rqueue,
    sendQ: s.wqueue,
  }
  if (s.family === 6 && s.v6only !== undefined) r.v6only = s.v6only
  if (s.ifindex) r.devIndex = s.ifindex
  if (s.locals?.length) r.localAddresses = s.locals
  return r
}

/**
 * The sockets of `ns` that hold ports: listening TCP and SCTP sockets and bound, unconnected UDP
 * sockets, IPv4 and IPv6 (`ip netns exec NS ss -ltnu -e`, plus `-S` for SCTP). One inet_diag dump
 * per family and protocol on the namespace's sock_diag socket (opened inside the namespace on a
 * namespace thread, then reused); the port filter runs in the kernel.
 *
 * SCTP: a kernel without SCTP at all (no "SCTP" in /proc/net/protocols) has no SCTP socket to
 * list, and none is listed. A kernel with SCTP but without sctp_diag cannot tell which SCTP ports
 * are held: asking for SCTP there (explicitly or by default) throws ERR_NETNS_KIT_UNSUPPORTED;
 * sockDiagSupport() says which case a kernel is in. The same holds for TCP and UDP diag modules.
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a bad filter (protocol, family 4 or 6) or a `ns` that is not a Namespace, `ERR_OUT_OF_RANGE` for a port outside 1..65535 (or `to` below `from`), before anything reaches the kernel.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_UNSUPPORTED` for a protocol whose diag module the kernel lacks (tcp_diag, udp_diag, sctp_diag).
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
 * @throws {NetlinkError} when the kernel refuses a sock_diag dump (`code`, `errno`, `syscall`).
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function listSockets(ns: Namespace, filter?: SocketFilter): Promise<SocketRecord[]> {
  const f = checkFilter(filter)
  const queries: NativeSockQuery[] = []
  for (const protocol of f.protocols) {
    for (const family of f.families) {
      // TCP: LISTEN alone. A bound TCP socket that neither listens nor is connected is in no table
      // inet_diag walks, so `ss -l`'s CLOSE bit finds nothing for TCP, and it makes the kernel walk
      // the whole established hash (shared by every namespace: about 2 ms per dump here, against
      // 0.05 ms for the listening hash alone). UDP's unconnected sockets are its CLOSE state.
      const q: NativeSockQuery = { family, protocol, ...(protocol === 'tcp' ? { states: TCPF_LISTEN } : {}) }
      if (f.port !== undefined) q.port = f.port
      if (f.range) {
        q.portFirst = f.range[0]
        q.portLast = f.range[1]
      }
      queries.push(q)
    }
  }
  const results = await sockDiag(ns, queries)
  const out: SocketRecord[] = []
  const absent = new Set<SocketProtocol>()
  for (let i = 0; i < results.length; i++) {
    const { sockets, error } = results[i]!
    const protocol = queries[i]!.protocol
    if (error) {
      if (error.errno === ENOENT) {
        if (absent.has(protocol) || !(await protocolLoaded(protocol))) {
          absent.add(protocol)
          continue
        }
        throw new NetnsKitError(
          'ERR_NETNS_KIT_UNSUPPORTED',
          `this kernel has ${protocol.toUpperCase()} but no ${DIAG_MODULE[protocol]}: the ${protocol} sockets of ${ns} cannot be listed` +
            (f.protocols.length > 1
              ? ` (ask for protocol: [${f.protocols
                  .filter((p) => p !== protocol)
                  .map((p) => `'${p}'`)
                  .join(', ')}] to list the others)`
              : ''),
        )
      }
      throw toError(error, { object: `${protocol}${queries[i]!.family} sockets of ${ns}` })
    }
    for (const s of sockets) {
      const r = record(s)
      if (r) out.push(r)
    }
  }
  return out
}

export type SockDiagStatus = 'supported' | 'no-protocol' | 'no-diag'

/**
 * What the kernel can list, per protocol: 'supported', 'no-protocol' (the kernel has no such
 * protocol, so no socket can hold one of its ports) or 'no-diag' (it has the protocol but not
 * its diag module: its sockets cannot be listed). One empty, port-filtered dump per protocol.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `ns` is not a netns-kit Namespace.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
 * @throws {NetlinkError} when a dump fails otherwise than ENOENT (`code`, `errno`, `syscall`).
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function sockDiagSupport(ns: Namespace): Promise<Record<SocketProtocol, SockDiagStatus>> {
  const results = await sockDiag(
    ns,
    PROTOCOLS.map((protocol) => ({ family: 4 as const, protocol, port: 0 })),
  )
  const out = {} as Record<SocketProtocol, SockDiagStatus>
  for (let i = 0; i < PROTOCOLS.length; i++) {
    const p = PROTOCOLS[i]!
    const err = results[i]!.error
    if (!err) out[p] = 'supported'
    else if (err.errno === ENOENT) out[p] = (await protocolLoaded(p)) ? 'no-diag' : 'no-protocol'
    else throw toError(err, { object: `${p} sockets of ${ns}` })
  }
  return out
}

function mappedV4(address: string): string | undefined {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return m ? m[1] : undefined
}

/**
 * Whether `socket` takes its port for `address` ('0.0.0.0', '::' or a specific address of either
 * family): traffic to `address`:port could be meant for it, and a second bind there would clash.
 * Same family: either side a wildcard, or the same address. An IPv6 socket without v6only also
 * covers IPv4: as a wildcard every IPv4 address, bound to ::ffff:a.b.c.d that one address.
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` when `address` is not an IPv4 or IPv6 address.
 */
export function socketOverlaps(socket: SocketRecord, address: string): boolean {
  const family = net.isIP(address)
  if (family === 0) throw invalidArg('address', address, 'must be an IPv4 or IPv6 address')
  const wildcard = address === '0.0.0.0' || address === '::'
  if (socket.family === family) {
    if (socket.wildcard || wildcard) return true
    return family === 4 ? socket.address === address : sameV6(socket.address, address)
  }
  if (family === 4 && socket.family === 6 && socket.v6only === false) {
    if (socket.wildcard || wildcard) return socket.wildcard || mappedV4(socket.address) !== undefined
    return mappedV4(socket.address) === address
  }
  return false
}

function sameV6(a: string, b: string): boolean {
  const sa = new net.SocketAddress({ address: a, family: 'ipv6' })
  const sb = new net.SocketAddress({ address: b, family: 'ipv6' })
  return sa.address === sb.address
}

/**
 * 'tcp 0.0.0.0:45000 (listen, uid 0, inode 81234)', for messages; a dual-stack IPv6 socket says so.
 * @throws Nothing: it only reads the record's fields.
 */
export function describeSocket(s: SocketRecord): string {
  const where = s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`
  const dual = s.family === 6 && s.v6only === false ? ', IPv4 too' : ''
  return `${s.protocol} ${where} (${s.state}${dual}, uid ${s.uid}, inode ${s.inode})`
}

/** A process holding a socket: its pid, command name (/proc/PID/comm) and the fd number. */
export interface SocketOwner {
  pid: number
  command: string
  fd: number
}

/**
 * The processes holding each socket inode (`ss -p`): every /proc/PID/fd/* whose link is
 * `socket:[INODE]`. Socket inodes are unique across namespaces, so this works for sockets listed
 * in any namespace, from the host's pid namespace. Processes whose fds cannot be read (other
 * users, without CAP_SYS_PTRACE/CAP_DAC_READ_SEARCH) or that exit meanwhile are skipped; an inode
 * without owner maps to [] (a socket held only by the kernel, or by such a process). One walk of
 * /proc for all the inodes given; call it only when the owners are wanted.
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` when an inode is not a positive integer.
 * @throws {Error} the `fs` error (`ENOENT`, `EACCES`) when /proc itself cannot be read; unreadable processes are skipped.
 */
export async function socketOwners(inodes: number | readonly number[]): Promise<Map<number, SocketOwner[]>> {
  const list = typeof inodes === 'number' ? [inodes] : [...inodes]
  if (list.some((i) => typeof i !== 'number' || !Number.isInteger(i) || i <= 0)) throw invalidArg('inodes', inodes, 'must be socket inode numbers')
  const out = new Map<number, SocketOwner[]>(list.map((i) => [i, []]))
  if (list.length === 0) return out
  const wanted = new Map(list.map((i) => [`socket:[${i}]`, i]))
  const pids = (await fs.readdir('/proc')).filter((d) => /^\d+$/.test(d))
  const BATCH = 64
  for (let i = 0; i < pids.length; i += BATCH) {
    await Promise.all(
      pids.slice(i, i + BATCH).map(async (pid) => {
        let fds: string[]
        try {
          fds = await fs.readdir(`/proc/${pid}/fd`)
        } catch {
          return // exited, or not ours to read
        }
        let command: string | undefined
        for (const fd of fds) {
          let target: string
          try {
            target = await fs.readlink(`/proc/${pid}/fd/${fd}`)
          } catch {
            continue
          }
          const inode = wanted.get(target)
          if (inode === undefined) continue
          command ??= (await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim()
          out.get(inode)!.push({ pid: Number(pid), command, fd: Number(fd) })
        }
      }),
    )
  }
  for (const owners of out.values()) owners.sort((a, b) => a.pid - b.pid || a.fd - b.fd)
  return out
}
