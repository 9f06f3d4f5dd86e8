// An embedded DNS resolver, as Docker's on 127.0.0.11: it runs inside this process, with its
// sockets opened inside the container's namespace, answers the names of a DnsRecords set
// and forwards the rest to upstream servers from a socket in another namespace (the host).
import * as dnsPacket from 'dns-packet'
import type * as dgram from 'node:dgram'
import { randomInt } from 'node:crypto'
import * as net from 'node:net'
import { invalidArg } from '../errors'
import type { Namespace } from '../namespace'
import { openTcpServer, openUdpSocket } from '../sockets'
import { checkInt } from '../validate'
import { EMBEDDED_RESOLVER } from '../container-files'
import { canonicalIp } from '../ipam/ip'
import { DnsRecords } from './records'
import { Upstream } from './upstream'
import {
  NOERROR,
  FORMERR,
  SERVFAIL,
  NXDOMAIN,
  NOTIMP,
  REFUSED,
  QR,
  OPCODE_MASK,
  isNameSource,
  parseServer,
  ptrAddress,
  encodeReply,
  errorReply,
} from './resolver-wire'
export { ptrAddress } from './resolver-wire'

/** An upstream server: address and port. */
export interface UpstreamServer {
  address: string
  port: number
}

/**
 * Where a resolver's own names come from: a DnsRecords set, or any object answering the same two
 * questions (the companion process answers from its index of the store).
 */
export interface NameSource {
  /**
   * The addresses of `family` for `name`: undefined when the name is not ours, [] when it is ours without such an address.
   * Called synchronously for every A, AAAA or other question, family 4 first (then 6 for AAAA).
   * @throws {Error} anything it likes: a throw from it is caught by the resolver, which then drops the query unanswered (no reply, not SERVFAIL: the client times out and retries); the resolver keeps running.
   */
  lookup(name: string, family: 4 | 6): string[] | undefined
  /**
   * The names of an address (PTR), the preferred one first. Called synchronously for a PTR question of an in-addr.arpa or ip6.arpa name.
   * @throws {Error} anything it likes: a throw from it is caught by the resolver, which then drops the query unanswered (no reply, not SERVFAIL: the client times out and retries); the resolver keeps running.
   */
  reverse(address: string): string[]
  /**
   * Optional: a name that is not ours (lookup undefined) but inside a zone we answer for
   * (NAME.NETWORK of a network of the container): NXDOMAIN, never forwarded (the upstream
   * would learn the container's names).
   * @throws {Error} anything it likes: a throw from it is caught by the resolver, which then drops the query unanswered (no reply, not SERVFAIL: the client times out and retries); the resolver keeps running.
   */
  owns?(name: string): boolean
}

export interface ResolverOptions {
  /** Where the resolver listens: the container's namespace. */
  namespace: Namespace
  /** Listening address (default 127.0.0.11, Docker's). */
  address?: string
  /** Listening port, UDP and TCP (default 53). */
  port?: number
  /** The names it answers for (default: a new, empty set; pass one set to every resolver of a network). */
  records?: DnsRecords | NameSource
  /** Where other names go. Without it they get SERVFAIL (Docker's internal networks). */
  upstream?: {
    /** 'IP', 'IP:PORT' or '[IPv6]:PORT', tried in order (Docker: the host's resolv.conf servers). */
    servers: string[]
    /** The namespace the queries leave from (default: this process's; Docker: the host's). */
    namespace?: Namespace
    /** Per try, in ms (default 2000). */
    timeout?: number
  }
  /** TTL of our answers in seconds (default 600, Docker's). */
  ttl?: number
  /** Also listen on TCP (default true). */
  tcp?: boolean
}

/** Counters, for tests and monitoring. */
export interface ResolverStats {
  /** Queries received (UDP and TCP). */
  queries: number
  /** Answered from the records. */
  local: number
  /** Answered by an upstream server. */
  forwarded: number
  /** Upstream exchanges retried over TCP because the UDP answer was truncated. */
  tcpFallbacks: number
  /** Answered SERVFAIL because no upstream answered. */
  failed: number
  /** Answers sent truncated (TC) because they did not fit the client's UDP size. */
  truncated: number
}

const MAX_PENDING = 256
const TCP_IDLE_MS = 10000
const MAX_TCP_CONNECTIONS = 64

interface Query {
  packet: dnsPacket.DecodedPacket
  question: dnsPacket.Question
  /** The client's UDP size limit (512, or its EDNS size); Infinity over TCP. */
  limit: number
}

/**
 * A DNS server for a container, running in this process (Docker's embedded DNS server):
 *
 * - listens on 127.0.0.11:53, UDP and TCP, on sockets the addon opens inside the
 *   container's namespace (no child process; setns only on the addon's threads);
 * - answers A, AAAA and PTR for the names and aliases of its DnsRecords, without regard to
 *   case; a name of ours with no address of the asked family gets an empty answer (not a
 *   forward);
 * - forwards every other question to the upstream servers, in order, from sockets opened in
 *   the upstream namespace (the host): over UDP from a fresh random port per query with a
 *   random id, retried over TCP when the answer is truncated (over TCP at once for clients
 *   that asked over TCP), each try bounded by a timeout; answers are checked (id, question)
 *   before they are relayed; SERVFAIL when no server answers.
 *
 * `docker network create` + `docker run --network N --name web --network-alias db` becomes
 * a DnsRecords entry `{ names: ['web', 'db'], addresses: [...] }` and a Resolver started in
 * the container's namespace with `options ndots:0` and `nameserver 127.0.0.11` in its
 * resolv.conf (see resolvConf({ resolver: true })).
 */
export class Resolver {
  readonly namespace: Namespace
  readonly address: string
  readonly port: number
  readonly records: DnsRecords | NameSource
  #upstreams: readonly UpstreamServer[]
  readonly stats: ResolverStats = { queries: 0, local: 0, forwarded: 0, tcpFallbacks: 0, failed: 0, truncated: 0 }
  readonly #upstream: Upstream
  readonly #ttl: number
  readonly #udp: dgram.Socket
  readonly #tcp: net.Server | undefined
  readonly #connections = new Set<net.Socket>()
  #pending = 0
  #closed: Promise<void> | undefined

  private constructor(o: {
    namespace: Namespace
    address: string
    port: number
    records: DnsRecords | NameSource
    upstreams: UpstreamServer[]
    upstreamNs: Namespace | undefined
    timeout: number
    ttl: number
    udp: dgram.Socket
    tcp: net.Server | undefined
  }) {
    this.namespace = o.namespace
    this.address = o.address
    this.port = o.port
    this.records = o.records
    this.#upstreams = Object.freeze(o.upstreams)
    this.#upstream = new Upstream(o.upstreamNs, o.timeout)
    this.#ttl = o.ttl
    this.#udp = o.udp
    this.#tcp = o.tcp
    this.#udp.on('message', (msg, rinfo) => this.#onUdp(msg, rinfo))
    this.#udp.on('error', () => {}) // a send to a vanished client; nothing to do
    this.#tcp?.on('connection', (c) => this.#onTcp(c))
    this.#tcp?.on('error', () => {})
  }

  /**
   * Starts a resolver listening inside `namespace` (like Docker's 127.0.0.11:53). The UDP
   * and TCP sockets are opened there by the addon's threads and handed to Node by fd.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE` or `ERR_OUT_OF_RANGE` for bad options (no namespace, an address that is not IPv4 or IPv6, a port, ttl or upstream timeout out of range, records that are neither a DnsRecords nor a NameSource, an upstream server that is not an address), before anything reaches the kernel.
   * @throws {NetlinkError} when a system call inside the namespace fails, with `syscall` ('socket', 'bind', 'setsockopt') and `code`: `'EADDRINUSE'` for a port in use, `'EADDRNOTAVAIL'` for an address no link has, `'EACCES'` for a port below 1024 without CAP_NET_BIND_SERVICE. The UDP socket is closed when the TCP one fails.
   * @throws {Error} Node's `listen` error when the TCP server cannot listen on its socket.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async start(opts: ResolverOptions): Promise<Resolver> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    if (!opts.namespace) throw invalidArg('opts.namespace', opts.namespace, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
    const address = opts.address === undefined ? EMBEDDED_RESOLVER : opts.address
    if (typeof address !== 'string' || net.isIP(address) === 0) throw invalidArg('opts.address', address, 'must be an IPv4 or IPv6 address')
    const port = opts.port === undefined ? 53 : checkInt(opts.port, 'opts.port', 0, 65535)
    if (opts.records !== undefined && !(opts.records instanceof DnsRecords) && !isNameSource(opts.records)) {
      throw invalidArg('opts.records', opts.records, 'must be a DnsRecords or an object { lookup(name, family), reverse(address) }', 'ERR_INVALID_ARG_TYPE')
    }
    const ttl = opts.ttl === undefined ? 600 : checkInt(opts.ttl, 'opts.ttl', 0, 2 ** 31 - 1)
    let upstreams: UpstreamServer[] = []
    let timeout = 2000
    if (opts.upstream !== undefined) {
      if (!opts.upstream || typeof opts.upstream !== 'object' || !Array.isArray(opts.upstream.servers)) {
        throw invalidArg('opts.upstream', opts.upstream, 'must be an object { servers: string[], namespace?, timeout? }', 'ERR_INVALID_ARG_TYPE')
      }
      upstreams = opts.upstream.servers.map(parseServer)
      if (opts.upstream.timeout !== undefined) timeout = checkInt(opts.upstream.timeout, 'opts.upstream.timeout', 1, 600000)
    }
    const udp = await openUdpSocket({ namespace: opts.namespace, address, port })
    let tcp: net.Server | undefined
    if (opts.tcp !== false) {
      try {
        // Same port as the UDP socket (the kernel's choice when port is 0).
        tcp = await openTcpServer({ namespace: opts.namespace, address, port: udp.address().port })
      } catch (e) {
        udp.close()
        throw e
      }
    }
    return new Resolver({
      namespace: opts.namespace,
      address: canonicalIp(address),
      port: udp.address().port,
      records: opts.records ?? new DnsRecords(),
      upstreams,
      upstreamNs: opts.upstream?.namespace,
      timeout,
      ttl,
      udp,
      tcp,
    })
  }

  /** Where other names go, in order. */
  get upstreams(): readonly UpstreamServer[] {
    return this.#upstreams
  }

  /**
   * Replaces the upstream servers ('IP', 'IP:PORT' or '[IPv6]:PORT'; [] for none: SERVFAIL) without
   * closing the listening sockets: queries in flight finish with the servers they started with.
   * @throws {TypeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for a server that is not an address (checked before any is replaced).
   */
  setUpstreams(servers: readonly string[]): void {
    if (!Array.isArray(servers)) throw invalidArg('servers', servers, 'must be an array of addresses', 'ERR_INVALID_ARG_TYPE')
    this.#upstreams = Object.freeze(servers.map(parseServer))
  }

  /**
   * Lets the process exit while the resolver runs (like socket.unref()).
   * @throws Nothing: allowed after close().
   */
  unref(): this {
    this.#udp.unref()
    this.#tcp?.unref()
    return this
  }

  /**
   * Keeps the process alive while the resolver runs again (like socket.ref()), the default.
   * @throws Nothing: allowed after close().
   */
  ref(): this {
    this.#udp.ref()
    this.#tcp?.ref()
    return this
  }

  /**
   * Stops listening, closes client connections and abandons queries in flight. Idempotent.
   * @throws Nothing: it never rejects; every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#upstream.cancelAll()
      for (const c of this.#connections) c.destroy()
      await Promise.all([
        new Promise<void>((resolve) => this.#udp.close(() => resolve())),
        this.#tcp ? new Promise<void>((resolve) => this.#tcp!.close(() => resolve())) : undefined,
      ])
    })()
    return this.#closed
  }

  /**
   * close(), for `await using`.
   * @throws Nothing: as close().
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  // --- receiving ----------------------------------------------------------------------------

  #onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    void this.#handle(msg, false)
      .then((reply) => {
        if (reply && !this.#closed) this.#udp.send(reply, rinfo.port, rinfo.address)
      })
      .catch(() => {})
  }

  #onTcp(c: net.Socket): void {
    if (this.#connections.size >= MAX_TCP_CONNECTIONS || this.#closed) {
      c.destroy()
      return
    }
    this.#connections.add(c)
    c.setTimeout(TCP_IDLE_MS, () => c.destroy())
    c.on('close', () => this.#connections.delete(c))
    c.on('error', () => {})
    let buf = Buffer.alloc(0)
    c.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0)
        const msg = buf.subarray(2, 2 + len)
        buf = buf.subarray(2 + len)
        void this.#handle(Buffer.from(msg), true)
          .then((reply) => {
            if (!reply || c.destroyed) return
            const head = Buffer.alloc(2)
            head.writeUInt16BE(reply.length)
            c.write(Buffer.concat([head, reply]))
          })
          .catch(() => {})
      }
    })
  }

  // --- answering ----------------------------------------------------------------------------

  /** The reply to one message (undefined: drop it). Never throws. */
  async #handle(msg: Buffer, overTcp: boolean): Promise<Buffer | undefined> {
    this.stats.queries++
    try {
      return await this.#reply(msg, overTcp)
    } catch {
      return undefined
    }
  }

  async #reply(msg: Buffer, overTcp: boolean): Promise<Buffer | undefined> {
    let packet: dnsPacket.DecodedPacket
    try {
      packet = dnsPacket.decode(msg) as dnsPacket.DecodedPacket
    } catch {
      // Not DNS, or malformed: FORMERR if at least the header is there, else nothing.
      return msg.length >= 12 && !(msg.readUInt16BE(2) & QR) ? errorReply(msg.readUInt16BE(0), FORMERR) : undefined
    }
    if (packet.type !== 'query') return undefined
    if (((packet.flags ?? 0) & OPCODE_MASK) !== 0) return errorReply(packet.id ?? 0, NOTIMP, packet)
    const question = packet.questions?.[0]
    if (!question || packet.questions!.length !== 1) return errorReply(packet.id ?? 0, FORMERR, packet)
    const opt = packet.additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined
    const q: Query = { packet, question, limit: overTcp ? Infinity : Math.max(512, opt?.udpPayloadSize ?? 512) }

    const local = this.#answerLocally(q)
    if (local) {
      this.stats.local++
      return this.#fit(local, q)
    }
    if (this.upstreams.length === 0 || this.#pending >= MAX_PENDING || this.#closed) {
      this.stats.failed++
      return errorReply(packet.id ?? 0, this.upstreams.length === 0 ? SERVFAIL : REFUSED, packet)
    }
    this.#pending++
    try {
      const answer = await this.#forward(msg, q, overTcp)
      if (!answer) {
        this.stats.failed++
        return errorReply(packet.id ?? 0, SERVFAIL, packet)
      }
      this.stats.forwarded++
      const relayed = Buffer.from(answer)
      relayed.writeUInt16BE(packet.id ?? 0, 0) // the client's id back (we asked upstream with our own)
      return this.#fit(relayed, q)
    } finally {
      this.#pending--
    }
  }

  /** Our own answer when the question is about one of our names (or addresses), else undefined. */
  #answerLocally(q: Query): Buffer | undefined {
    const { question } = q
    const name = question.name.replace(/\.$/, '')
    let answers: dnsPacket.Answer[] | undefined
    if (question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY') return undefined
    if (question.type === 'PTR') {
      const addr = ptrAddress(name)
      const names = addr ? this.records.reverse(addr) : []
      if (!names.length) return undefined
      answers = [{ type: 'PTR', name: question.name, ttl: this.#ttl, data: names[0]! }]
    } else {
      const v4 = this.records.lookup(name, 4)
      if (v4 === undefined) return 'owns' in this.records && this.records.owns?.(name) ? encodeReply(q.packet, NXDOMAIN, [], true) : undefined
      if (question.type === 'A') answers = v4.map((a) => ({ type: 'A', name: question.name, ttl: this.#ttl, data: a }))
      else if (question.type === 'AAAA') answers = this.records.lookup(name, 6)!.map((a) => ({ type: 'AAAA', name: question.name, ttl: this.#ttl, data: a }))
      else answers = [] // a name of ours, a type we do not hold: no data (not NXDOMAIN, not a forward)
    }
    return encodeReply(q.packet, NOERROR, answers, true)
  }

  /** Over UDP, an answer larger than the client takes goes back empty with TC set: the client asks again over TCP. */
  #fit(reply: Buffer, q: Query): Buffer {
    if (reply.length <= q.limit) return reply
    this.stats.truncated++
    const r = encodeReply(q.packet, reply.readUInt16BE(2) & 0xf, [], (reply.readUInt16BE(2) & dnsPacket.AUTHORITATIVE_ANSWER) !== 0)
    r.writeUInt16BE(r.readUInt16BE(2) | dnsPacket.TRUNCATED_RESPONSE, 2)
    return r
  }

  // --- forwarding ---------------------------------------------------------------------------

  /** Tries each upstream in turn; returns the first usable answer (with our id), or undefined. */
  async #forward(msg: Buffer, q: Query, overTcp: boolean): Promise<Buffer | undefined> {
    let fallback: Buffer | undefined
    for (const server of this.upstreams) {
      const id = randomInt(0, 65536)
      const query = Buffer.from(msg)
      query.writeUInt16BE(id, 0)
      let answer: Buffer | undefined
      try {
        if (!overTcp) {
          answer = await this.#upstream.exchangeUdp(server, query, id, q.question)
          if (answer && answer.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) {
            this.stats.tcpFallbacks++
            answer = await this.#upstream.exchangeTcp(server, query, id, q.question)
          }
        } else {
          answer = await this.#upstream.exchangeTcp(server, query, id, q.question)
        }
      } catch {
        answer = undefined // this server failed: try the next
      }
      if (!answer) continue
      const rcode = answer.readUInt16BE(2) & 0xf
      if (rcode === SERVFAIL || rcode === REFUSED || rcode === NOTIMP) {
        fallback ??= answer // another server may do better; else relay this one
        continue
      }
      return answer
    }
    return fallback
  }
}
