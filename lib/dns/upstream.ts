// Forwarding to upstream DNS servers, from sockets opened in the upstream namespace (the host):
// one exchange over UDP or TCP at a time per query, each settled once (answer, failure, timeout or
// cancelAll()), answers accepted only from the server asked and for the question asked.
import * as dnsPacket from 'dns-packet'
import * as net from 'node:net'
import { canonicalIp } from '../ipam/ip'
import type { Namespace } from '../namespace'
import { connectTcp, openUdpSocket } from '../sockets'
import type { UpstreamServer } from './resolver'

/** Whether `answer` is the reply to our query: our id, a response, the same question. */
function matches(answer: Buffer, id: number, question: dnsPacket.Question): boolean {
  try {
    const p = dnsPacket.decode(answer)
    const aq = p.questions?.[0]
    return p.id === id && p.type === 'response' && !!aq && aq.type === question.type && aq.name.toLowerCase() === question.name.toLowerCase()
  } catch {
    return false
  }
}

export class Upstream {
  readonly #namespace: Namespace | undefined
  readonly #timeout: number
  readonly #inflight = new Set<{ cancel(): void }>()

  constructor(namespace: Namespace | undefined, timeout: number) {
    this.#namespace = namespace
    this.#timeout = timeout
  }

  /** Ends every exchange in flight (they settle with no answer). */
  cancelAll(): void {
    for (const q of this.#inflight) q.cancel()
  }

  /**
   * One upstream exchange: settles once (answer, failure, timeout or close()), then runs the
   * cleanups; `cleanup(fn)` returns false (after running fn) when it is already over.
   */
  #track<T>(run: (settle: (v: T | undefined) => void, cleanup: (fn: () => void) => boolean) => void): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve) => {
      const cleanups: (() => void)[] = []
      let done = false
      const entry = { cancel: () => settle(undefined) }
      const settle = (v: T | undefined) => {
        if (done) return
        done = true
        this.#inflight.delete(entry)
        for (const c of cleanups) {
          try {
            c()
          } catch {
            /* already closed */
          }
        }
        resolve(v)
      }
      this.#inflight.add(entry)
      const timer = setTimeout(() => settle(undefined), this.#timeout)
      cleanups.push(() => clearTimeout(timer))
      try {
        run(settle, (fn) => {
          if (!done) {
            cleanups.push(fn)
            return true
          }
          try {
            fn()
          } catch {
            /* already closed */
          }
          return false
        })
      } catch {
        settle(undefined)
      }
    })
  }

  async exchangeUdp(server: UpstreamServer, query: Buffer, id: number, question: dnsPacket.Question): Promise<Buffer | undefined> {
    return this.#track<Buffer>((settle, cleanup) => {
      const family = net.isIP(server.address) as 4 | 6
      // A new socket, so a new random source port, for every query (and no shared state).
      openUdpSocket({ namespace: this.#namespace, address: family === 6 ? '::' : '0.0.0.0', port: 0 })
        .then((sock) => {
          if (!cleanup(() => sock.close())) return
          sock.on('error', () => settle(undefined))
          sock.on('message', (m, rinfo) => {
            // Only the server we asked, answering what we asked (ids and ports are random).
            if (canonicalIp(rinfo.address) !== server.address || rinfo.port !== server.port) return
            if (matches(m, id, question)) settle(m)
          })
          sock.send(query, server.port, server.address)
        })
        .catch(() => settle(undefined))
    })
  }

  async exchangeTcp(server: UpstreamServer, query: Buffer, id: number, question: dnsPacket.Question): Promise<Buffer | undefined> {
    return this.#track<Buffer>((settle, cleanup) => {
      connectTcp({ namespace: this.#namespace, host: server.address, port: server.port, timeout: this.#timeout })
        .then((sock) => {
          if (!cleanup(() => sock.destroy())) return
          sock.on('error', () => settle(undefined))
          sock.on('close', () => settle(undefined))
          let buf = Buffer.alloc(0)
          sock.on('data', (chunk: Buffer) => {
            buf = Buffer.concat([buf, chunk])
            if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
              const m = buf.subarray(2, 2 + buf.readUInt16BE(0))
              settle(matches(m, id, question) ? Buffer.from(m) : undefined)
            }
          })
          const head = Buffer.alloc(2)
          head.writeUInt16BE(query.length)
          sock.write(Buffer.concat([head, query]))
        })
        .catch(() => settle(undefined))
    })
  }
}
