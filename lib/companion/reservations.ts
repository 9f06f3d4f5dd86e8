// Port reservations: for each published host port, a socket bound in the host namespace (a
// listening TCP socket, a bound UDP socket; on the host address, or the wildcard of its family),
// so a host process that binds the port later gets EADDRINUSE, as with Docker 28. Nothing is ever
// served on them: a connection that reaches a reserving TCP socket (the DNAT rule sends published
// traffic to the container before it could) is closed at once, datagrams are dropped.
import * as fs from 'node:fs'
import type * as net from 'node:net'
import type { PortRecord } from '../ipam/network-store'
import type { Namespace } from '../namespace'
import { openSocket } from '../kernel/sockets'
import { openTcpServer } from '../sockets'

interface Held {
  key: string
  port: PortRecord
  /** Resolves once the fd is closed (a host bind() right after it succeeds). */
  close(): Promise<void>
}

/** The identity of a reservation: protocol, family, address, port. */
export function portKey(p: PortRecord): string {
  return `${p.protocol}/${p.family}/${p.hostIp}/${p.hostPort}`
}

export function describePort(p: PortRecord): string {
  return `${p.protocol} ${p.family === 6 ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}`
}

const WILDCARD = new Set(['0.0.0.0', '::'])

async function bind(host: Namespace, p: PortRecord): Promise<Held> {
  // A specific address may not be there yet (or any more): IP_FREEBIND still reserves it.
  const freebind = !WILDCARD.has(p.hostIp)
  if (p.protocol === 'tcp') {
    // Without SO_REUSEADDR: no other socket may share the port, whatever its address or options.
    const server: net.Server = await openTcpServer({ namespace: host, address: p.hostIp, port: p.hostPort, freebind, backlog: 1, reuseAddr: false })
    server.on('connection', (c) => c.destroy())
    server.on('error', () => {})
    return { key: portKey(p), port: p, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
  }
  // The bare fd, never handed to dgram: libuv sets SO_REUSEADDR on a UDP socket it adopts, and
  // two UDP sockets with SO_REUSEADDR share a port. Datagrams that reach it (none should: DNAT
  // comes first) wait in its receive buffer until it is full, then are dropped.
  const { fd } = await openSocket(host, { family: p.family, type: 'udp', address: p.hostIp, port: p.hostPort, freebind })
  return {
    key: portKey(p),
    port: p,
    close: async () => {
      try {
        fs.closeSync(fd)
      } catch {
        /* closed */
      }
    },
  }
}

/** The reservations of the endpoints of one host namespace. */
export class Reservations {
  readonly #host: Namespace
  readonly #byEndpoint = new Map<string, Held[]>()

  constructor(host: Namespace) {
    this.#host = host
  }

  /** How many sockets are held. */
  get size(): number {
    let n = 0
    for (const h of this.#byEndpoint.values()) n += h.length
    return n
  }

  /** The ports held for an endpoint. */
  held(endpointId: string): PortRecord[] {
    return (this.#byEndpoint.get(endpointId) ?? []).map((h) => h.port)
  }

  /**
   * Holds exactly `ports` for the endpoint: binds what is missing, closes what is no longer
   * wanted. All or nothing: when one bind fails (EADDRINUSE: a host process has the port), the
   * sockets bound by this call are closed again and the error is thrown. SCTP ports are not
   * reserved (Node has no SCTP sockets).
   */
  async hold(endpointId: string, ports: readonly PortRecord[]): Promise<void> {
    const wanted = ports.filter((p) => p.protocol === 'tcp' || p.protocol === 'udp')
    const keys = new Set(wanted.map(portKey))
    const current = this.#byEndpoint.get(endpointId) ?? []
    const kept = current.filter((h) => keys.has(h.key))
    await Promise.all(current.filter((h) => !keys.has(h.key)).map((h) => h.close()))
    const have = new Set(kept.map((h) => h.key))
    const added: Held[] = []
    try {
      for (const p of wanted) {
        if (have.has(portKey(p))) continue
        try {
          added.push(await bind(this.#host, p))
        } catch (e) {
          // Which port: the caller moves an automatic one on (docker -P) and names a given one.
          if (e && typeof e === 'object') Object.assign(e, { port: p.hostPort, protocol: p.protocol })
          throw e
        }
      }
    } catch (e) {
      await Promise.all(added.map((h) => h.close()))
      if (kept.length) this.#byEndpoint.set(endpointId, kept)
      else this.#byEndpoint.delete(endpointId)
      throw e
    }
    const all = [...kept, ...added]
    if (all.length) this.#byEndpoint.set(endpointId, all)
    else this.#byEndpoint.delete(endpointId)
  }

  /** Closes the endpoint's sockets. */
  async release(endpointId: string): Promise<void> {
    const held = this.#byEndpoint.get(endpointId) ?? []
    this.#byEndpoint.delete(endpointId)
    await Promise.all(held.map((h) => h.close()))
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#byEndpoint.keys()].map((id) => this.release(id)))
  }
}
