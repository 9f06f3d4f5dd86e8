// The host ports a published mapping must respect (docker run -p / -P on a host where other
// processes run): the sockets host processes hold (listening TCP and SCTP, bound UDP, IPv4 and
// IPv6, wildcard and specific addresses, read through sock_diag netlink: lib/sock-diag.ts), the
// range -P picks from (net.ipv4.ip_local_port_range) and the ports the host keeps out of it
// (net.ipv4.ip_local_reserved_ports). NatRule.publish reads them before planning; Network before
// its store's transaction (the store then claims).
import { NetnsKitError } from '../errors'
import type { Namespace } from '../namespace'
import { describeSocket, listSockets, socketOverlaps, socketOwners, type SocketRecord } from '../sock-diag'
import type { NatProtocol } from './types'

/** The host side of a mapping: protocol, the addresses it answers on, and the ports given (absent: -P). */
export interface HostClaim {
  protocol: NatProtocol
  /** '0.0.0.0', '::' (both for a dual-stack mapping), or specific addresses ('127.0.0.1' for the loopback). */
  addresses: string[]
  /** The host port or range given; absent: chosen from ip_local_port_range (docker -P). */
  ports?: [number, number]
}

/** What the host holds, as far as the mappings of one call are concerned. */
export interface HostPorts {
  /** net.ipv4.ip_local_port_range: where -P picks. */
  range: [number, number]
  /**
   * Whether a chosen port must be skipped: a host socket holds it on one of the claim's addresses,
   * or (`reserved`: a pick from ip_local_port_range) it is in ip_local_reserved_ports.
   */
  skip(claim: HostClaim, port: number, reserved: boolean): boolean
  /** The ports of ip_local_port_range that skip() refuses (for a store choosing -P ports). */
  exclude(claim: HostClaim): number[]
  /** ERR_NETNS_KIT_PORT_ALLOCATED when a host socket holds a port given for the claim, naming the socket and its process. */
  check(claim: HostClaim): Promise<void>
}

/** Parses net.ipv4.ip_local_reserved_ports ('8080,9000-9010'). */
export function parsePortList(text: string): [number, number][] {
  const out: [number, number][] = []
  for (const part of text.trim().split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part)
    if (!m) continue
    const a = Number(m[1]),
      b = m[2] === undefined ? a : Number(m[2])
    if (a >= 1 && b <= 65535 && a <= b) out.push([a, b])
  }
  return out
}

async function sysctlOr(ns: Namespace, key: string, dflt: string): Promise<string> {
  return ns.sysctl.get(key).catch(() => dflt)
}

/**
 * Reads the host's port range, reserved ports and the port-holding sockets of the protocols the
 * claims use (one sock_diag dump per protocol and family, filtered by the kernel to the ports
 * that matter). SCTP on a kernel with SCTP but without sctp_diag cannot be checked: skipped.
 */
export async function readHostPorts(host: Namespace, claims: HostClaim[]): Promise<HostPorts> {
  // The range and the reserved ports matter only to a port chosen from the range (-P).
  const picks = claims.some((c) => !c.ports)
  const [rangeText, reservedText] = picks
    ? await Promise.all([sysctlOr(host, 'net.ipv4.ip_local_port_range', '32768 60999'), sysctlOr(host, 'net.ipv4.ip_local_reserved_ports', '')])
    : ['32768 60999', '']
  const r = rangeText.trim().split(/\s+/).map(Number)
  const range: [number, number] = [r[0] || 32768, r[1] || 60999]
  const reserved = parsePortList(reservedText)
  const wanted = claims.flatMap((c) => c.ports ?? range)
  const sockets: SocketRecord[] = []
  if (claims.length) {
    const port = { from: Math.min(...wanted), to: Math.max(...wanted) }
    const lists = await Promise.all(
      [...new Set(claims.map((c) => c.protocol))].map((protocol) =>
        listSockets(host, { protocol, port }).catch((e: unknown) => {
          if (protocol === 'sctp' && (e as { code?: string }).code === 'ERR_NETNS_KIT_UNSUPPORTED') return []
          throw e
        }),
      ),
    )
    sockets.push(...lists.flat())
  }
  const holders = (c: HostClaim, port: number) =>
    sockets.filter((s) => s.protocol === c.protocol && s.port === port && c.addresses.some((a) => socketOverlaps(s, a)))
  const isReserved = (port: number) => reserved.some(([a, b]) => port >= a && port <= b)
  return {
    range,
    skip: (c, port, res) => (res && isReserved(port)) || holders(c, port).length > 0,
    exclude(c) {
      const out = new Set<number>()
      for (const [a, b] of reserved) for (let p = Math.max(a, range[0]); p <= Math.min(b, range[1]); p++) out.add(p)
      for (const s of sockets) if (s.port >= range[0] && s.port <= range[1] && holders(c, s.port).length) out.add(s.port)
      return [...out]
    },
    async check(c) {
      if (!c.ports) return
      for (let port = c.ports[0]; port <= c.ports[1]; port++) {
        const held = holders(c, port)
        if (!held.length) continue
        const s = held[0]!
        const owners = (await socketOwners(s.inode).catch(() => new Map<number, { pid: number; command: string }[]>())).get(s.inode) ?? []
        const by = owners.length ? ` of ${owners.map((o) => `pid ${o.pid} (${o.command})`).join(', ')}` : ''
        const where = c.addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(' and ')
        throw new NetnsKitError(
          'ERR_NETNS_KIT_PORT_ALLOCATED',
          `${c.protocol} ${where}:${port}: address already in use on the host by ${describeSocket(s)}${by}`,
        )
      }
    },
  }
}
