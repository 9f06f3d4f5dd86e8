// The host ports a published mapping must respect (docker run -p / -P on a host where other
// processes run): the sockets host processes hold (listening TCP and SCTP, bound UDP, IPv4 and
// IPv6, wildcard and specific addresses, read through sock_diag netlink: lib/sock-diag.ts), the
// range -P picks from (net.ipv4.ip_local_port_range) and the ports the host keeps out of it
// (net.ipv4.ip_local_reserved_ports). Read before the store's transaction; the store then claims.
import { NetnsKitError, invalidArg } from '../errors'
import type { NatProtocol } from '../nat'
import type { Namespace } from '../namespace'
import { describeSocket, listSockets, socketOverlaps, socketOwners, type SocketRecord } from '../sock-diag'

/** One claim a mapping makes on the host: protocol, address ('0.0.0.0', '::' or one address), and its port when given. */
export interface HostClaim {
  protocol: NatProtocol
  /** The addresses it answers on: '0.0.0.0', '::' (both for a dual-stack mapping) or specific ones. */
  addresses: string[]
  hostPort?: number
}

/** What the host holds, as far as the publishes of one connect are concerned. */
export interface HostPorts {
  /** net.ipv4.ip_local_port_range: where -P picks. */
  range: [number, number]
  /** The ports -P must skip for a claim: reserved ones, and those a host socket holds on one of its addresses. */
  exclude(claim: HostClaim): number[]
  /** ERR_NETNS_KIT_PORT_ALLOCATED when a host socket holds the port given for the claim. */
  check(claim: HostClaim): Promise<void>
}

/** Parses net.ipv4.ip_local_reserved_ports ('8080,9000-9010'). */
export function parsePortList(text: string): [number, number][] {
  const out: [number, number][] = []
  for (const part of text.trim().split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part)
    if (!m) continue
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2])
    if (a >= 1 && b <= 65535 && a <= b) out.push([a, b])
  }
  return out
}

async function sysctlOr(ns: Namespace, key: string, dflt: string): Promise<string> {
  return ns.sysctl.get(key).catch(() => dflt)
}

/**
 * Reads the host's port range, reserved ports and port-holding sockets of the protocols the
 * claims use (one sock_diag dump per protocol and family, filtered by the kernel to the ports
 * that matter). SCTP on a kernel with SCTP but without sctp_diag cannot be checked: skipped.
 */
export async function readHostPorts(host: Namespace, claims: HostClaim[]): Promise<HostPorts> {
  const [rangeText, reservedText] = await Promise.all([
    sysctlOr(host, 'net.ipv4.ip_local_port_range', '32768 60999'),
    sysctlOr(host, 'net.ipv4.ip_local_reserved_ports', ''),
  ])
  const r = rangeText.trim().split(/\s+/).map(Number)
  const range: [number, number] = [r[0] || 32768, r[1] || 60999]
  const reserved = parsePortList(reservedText)
  const wanted = claims.flatMap((c) => (c.hostPort !== undefined ? [c.hostPort] : range))
  const sockets: SocketRecord[] = []
  if (claims.length) {
    const port = { from: Math.min(...wanted), to: Math.max(...wanted) }
    const lists = await Promise.all([...new Set(claims.map((c) => c.protocol))].map((protocol) =>
      listSockets(host, { protocol, port }).catch((e: unknown) => {
        if (protocol === 'sctp' && (e as { code?: string }).code === 'ERR_NETNS_KIT_UNSUPPORTED') return []
        throw e
      })))
    sockets.push(...lists.flat())
  }
  const holders = (c: HostClaim, port: number) => sockets.filter((s) => s.protocol === c.protocol && s.port === port && c.addresses.some((a) => socketOverlaps(s, a)))
  return {
    range,
    exclude(c) {
      const out = new Set<number>()
      for (const [a, b] of reserved) for (let p = Math.max(a, range[0]); p <= Math.min(b, range[1]); p++) out.add(p)
      for (const s of sockets) if (s.port >= range[0] && s.port <= range[1] && holders(c, s.port).length) out.add(s.port)
      return [...out]
    },
    async check(c) {
      if (c.hostPort === undefined) return
      const held = holders(c, c.hostPort)
      if (!held.length) return
      const s = held[0]!
      const owners = (await socketOwners(s.inode).catch(() => new Map<number, { pid: number; command: string }[]>())).get(s.inode) ?? []
      const by = owners.length ? ` of ${owners.map((o) => `pid ${o.pid} (${o.command})`).join(', ')}` : ''
      const where = c.addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(' and ')
      throw new NetnsKitError('ERR_NETNS_KIT_PORT_ALLOCATED',
        `${c.protocol} ${where}:${c.hostPort}: address already in use on the host by ${describeSocket(s)}${by}`)
    },
  }
}

/** A host address of a publish entry, checked against the network's families. */
export function publishFamily(hostIp: string | undefined, hasV6: boolean, arg: string): { family: 4 | 6; dualStack: boolean } {
  if (hostIp === undefined) return { family: 4, dualStack: hasV6 }
  const v6 = hostIp.includes(':')
  if (v6 && !hasV6) throw invalidArg(arg, hostIp, 'is an IPv6 address but the network has no IPv6 subnet')
  return { family: v6 ? 6 : 4, dualStack: false }
}
