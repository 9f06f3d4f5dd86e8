// The companion process (the aardvark-dns / docker-proxy role): one per host namespace and store.
// It follows the store's change feed and, for the networks of its host namespace,
//   - answers names from every endpoint (any process's) in each container: a resolver on
//     127.0.0.11:53 inside the container's namespace, forwarding from the host namespace to that
//     container's upstreams (its endpoint's dns.servers, else the network's, else the host's
//     resolv.conf, followed as it changes);
//   - holds a bound socket for each published host port (reservations.ts);
//   - finishes the disconnect of an endpoint whose host veth vanished (its namespace died);
// and exits when no endpoint needs it any more (unless run --foreground).
import * as fs from 'node:fs'
import * as net from 'node:net'
import { Resolver } from '../dns'
import { NetnsKitError } from '../errors'
import type { Change, EndpointRecord, NetworkRecord, NsIdentity } from '../ipam/network-store'
import { SqliteStore } from '../ipam/sqlite-store'
import { handleOf } from '../kernel/handles'
import { tryLock } from '../kernel/sockets'
import { Namespace } from '../namespace'
import { HostResolvConf } from './host-resolv'
import { NameIndex } from './names'
import { companionPaths, ensureRunDir, type CompanionPaths } from './paths'
import { lineSplitter, toWire, type HelloResult, type PrepareResult, type Reply, type Request, type StatusResult } from './protocol'
import { Reservations, describePort } from './reservations'
import { nsGone, teardownEndpoint } from './teardown'

export interface CompanionServerOptions {
  /** The database of the SqliteStore it serves. */
  store: string
  /** A path of the host namespace ('/run/netns/NAME', '/proc/self/ns/net'). */
  host: string
  /** 'DEV:INO' the host namespace must have (refused if `host` names another one). */
  hostId?: string
  /** Default /run/netns-kit. */
  runDir?: string
  /** Run under a service manager: never exit when idle. */
  foreground?: boolean
  /** How long it stays without work before it exits (ms, default 2000). */
  idleMs?: number
  /** The host's resolv.conf (default /etc/resolv.conf). */
  resolvConf?: string
  log?: (line: string) => void
}

interface NetInfo {
  id: string
  name: string
  dns: boolean
  internal: boolean
  upstream: string[] | undefined
}

interface Container {
  key: string
  ns: NsIdentity
  /** Its endpoints on networks with DNS, first connected first. */
  endpoints: Set<string>
  resolver?: Resolver
  starting?: Promise<void>
  error?: Error
  /** Its namespace file is gone: we let go of it, so the kernel can free it. */
  gone: boolean
}

const nsKeyOf = (ns: { dev: string; ino: string }) => `${ns.dev}:${ns.ino}`

/** Reads what a network record says about name resolution (the bridge driver's config, as bridgeConfig() in lib/network/state.ts). */
export function netInfo(rec: NetworkRecord): NetInfo {
  const c = rec.config ?? {}
  const dnsCfg = c.dns as unknown
  const upstreamCfg = c.upstream as unknown
  return {
    id: rec.id,
    name: rec.name,
    dns: rec.driver === 'bridge' && dnsCfg === true,
    internal: c.internal === true,
    upstream: Array.isArray(upstreamCfg) ? upstreamCfg.filter((s): s is string => typeof s === 'string') : undefined,
  }
}

function capabilities(): string {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8')
    return ['CapEff', 'CapBnd'].map((k) => `${k}=${new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(s)?.[1] ?? '?'}`).join(' ')
  } catch {
    return '?'
  }
}

export class CompanionServer {
  readonly paths: CompanionPaths
  readonly store: SqliteStore
  readonly host: Namespace
  readonly hostId: NsIdentity
  readonly foreground: boolean
  readonly started = new Date()
  readonly #opts: CompanionServerOptions
  readonly #log: (line: string) => void
  readonly #pidFd: number
  readonly #index = new NameIndex()
  readonly #networks = new Map<string, NetInfo | null>()
  readonly #endpoints = new Map<string, EndpointRecord>()
  readonly #containers = new Map<string, Container>()
  readonly #reservations: Reservations
  /** Endpoints whose ports could not be held, and why (prepare reports it). */
  readonly #portErrors = new Map<string, Error>()
  readonly #healing = new Set<string>()
  /** The endpoints that keep us running (DNS or published ports). */
  readonly #needy = new Set<string>()
  readonly #abort = new AbortController()
  readonly #clients = new Set<net.Socket>()
  #server: net.Server | undefined
  #resolv: HostResolvConf | undefined
  #unsubscribe: (() => void) | undefined
  #seq = 0
  #queue: Promise<unknown> = Promise.resolve()
  #drainQueued = false
  #idleTimer: NodeJS.Timeout | undefined
  #checkTimer: NodeJS.Timeout | undefined
  #procPoll: NodeJS.Timeout | undefined
  readonly #dirWatches = new Map<string, fs.FSWatcher>()
  #lastRequest = Date.now()
  #healed = 0
  #stopping: Promise<void> | undefined
  readonly exited: Promise<void>
  #exit!: () => void

  private constructor(o: { opts: CompanionServerOptions; paths: CompanionPaths; pidFd: number; host: Namespace; hostId: NsIdentity; store: SqliteStore }) {
    this.#opts = o.opts
    this.paths = o.paths
    this.#pidFd = o.pidFd
    this.host = o.host
    this.hostId = o.hostId
    this.store = o.store
    this.foreground = o.opts.foreground === true
    this.#log = o.opts.log ?? ((l) => process.stderr.write(`${new Date().toISOString()} companion[${process.pid}] ${l}\n`))
    this.#reservations = new Reservations(o.host)
    this.exited = new Promise((resolve) => {
      this.#exit = resolve
    })
  }

  /**
   * Starts serving, or returns undefined when another companion of the same host namespace and
   * store holds the pid file's lock (it serves; this one has nothing to do).
   */
  static async start(opts: CompanionServerOptions): Promise<CompanionServer | undefined> {
    const { host, hostId } = await openHost(opts.host, opts.hostId)
    let pidFd = -1
    try {
      const paths = companionPaths(hostId, opts.store, opts.runDir)
      ensureRunDir(opts.runDir)
      pidFd = await lockPidFile(paths)
      if (pidFd < 0) {
        await host.close()
        return undefined
      }
      fs.ftruncateSync(pidFd)
      fs.writeSync(pidFd, `${process.pid}\n`, 0)
      const store = new SqliteStore({ path: opts.store, importFileStore: false })
      const s = new CompanionServer({ opts, paths, pidFd, host, hostId, store })
      try {
        await s.#begin()
      } catch (e) {
        await s.stop(`could not start: ${(e as Error).message}`)
        throw e
      }
      return s
    } catch (e) {
      if (pidFd >= 0) fs.closeSync(pidFd)
      await host.close().catch(() => {})
      throw e
    }
  }

  async #begin(): Promise<void> {
    this.#resolv = new HostResolvConf(this.#opts.resolvConf ?? '/etc/resolv.conf', () => this.#exclusive(() => this.#refreshUpstreams()))
    this.#seq = await this.store.sequence()
    await this.#exclusive(() => this.#rebuild())
    this.#unsubscribe = this.store.onChange(() => this.#kick())
    this.#watchLinks()
    this.#checkTimer = setInterval(() => this.#checkAlive(), 500)
    this.#checkTimer.unref()
    await this.#listen()
    this.#log(
      `serving host ${this.hostId.dev}:${this.hostId.ino} (${this.host.path}) from ${this.store.path}; ${capabilities()}; ` +
        `${this.#endpoints.size} endpoint(s), ${this.#containers.size} container(s) with DNS, ${this.#reservations.size} port(s)`,
    )
    // Changes committed while we started are not lost: the feed is read from the sequence taken first.
    this.#kick()
    this.#checkIdle()
  }

  // --- the unix socket ----------------------------------------------------------------------

  async #listen(): Promise<void> {
    const p = this.paths.socket
    // Ours to replace: we hold the pid file's lock, so the socket there is a dead companion's.
    fs.rmSync(p, { force: true })
    const server = net.createServer((c) => this.#onClient(c))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(p, () => {
        server.off('error', reject)
        resolve()
      })
    })
    fs.chmodSync(p, 0o600)
    server.on('error', (e) => this.#log(`socket: ${e.message}`))
    this.#server = server
  }

  #onClient(c: net.Socket): void {
    this.#clients.add(c)
    c.on('close', () => this.#clients.delete(c))
    c.on('error', () => {})
    const onData = lineSplitter((line) => {
      let req: Request
      try {
        req = JSON.parse(line) as Request
      } catch {
        c.destroy()
        return
      }
      this.#lastRequest = Date.now()
      void this.#handle(req)
        .then(
          (result): Reply => ({ id: req.id, ok: true, result }),
          (e: unknown): Reply => ({ id: req.id, ok: false, error: toWire(e) }),
        )
        .then((reply) => {
          if (!c.destroyed) c.write(JSON.stringify(reply) + '\n')
          if (req.op === 'stop') void this.stop('asked to stop')
        })
    })
    c.on('data', (d: Buffer) => {
      try {
        onData(d)
      } catch {
        c.destroy()
      }
    })
  }

  async #handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case 'hello':
        return this.#hello()
      case 'sync': {
        await this.sync()
        return { seq: this.#seq }
      }
      case 'prepare':
        return this.prepare(req.endpoint)
      case 'status':
        return this.status()
      case 'stop':
        return {}
      default:
        throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', `unknown request '${(req as { op?: unknown }).op}'`)
    }
  }

  #hello(): HelloResult {
    return {
      pid: process.pid,
      key: this.paths.key,
      host: nsKeyOf(this.hostId),
      store: this.store.path,
      foreground: this.foreground,
      started: this.started.toISOString(),
    }
  }

  // --- following the store ------------------------------------------------------------------

  /** Runs `fn` after everything queued before it (one change at a time). */
  #exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }

  /** Soon applies what changed (coalesced). */
  #kick(): void {
    if (this.#drainQueued || this.#stopping) return
    this.#drainQueued = true
    void this.#exclusive(async () => {
      this.#drainQueued = false
      await this.#drain()
    }).catch((e: unknown) => this.#log(`applying changes: ${(e as Error).message}`))
  }

  /** Every change committed before the call is applied when it resolves. */
  async sync(): Promise<void> {
    await this.#exclusive(() => this.#drain())
  }

  /** Applies the changes committed since the last call (the feed keeps the latest state of each record). */
  async #drain(): Promise<void> {
    const b = await this.store.changesSince(this.#seq)
    if (b.reset) {
      this.#log('the change feed moved past us: reading every record again')
      this.#seq = b.seq
      await this.#rebuild()
      return
    }
    for (const c of b.changes) await this.#apply(c)
    this.#seq = b.seq
    this.#checkIdle()
  }

  /** Reads every network of our host and its endpoints (start, or a reset of the feed). */
  async #rebuild(): Promise<void> {
    const nets = await this.store.networks({ host: this.hostId })
    const seen = new Set<string>()
    this.#networks.clear()
    for (const n of nets) {
      const info = netInfo(n)
      this.#networks.set(n.id, info)
      for (const e of await this.store.endpoints(n.id)) {
        seen.add(e.id)
        await this.#upsert(e)
      }
    }
    for (const id of [...this.#endpoints.keys()]) if (!seen.has(id)) await this.#remove(id)
    this.#checkIdle()
  }

  async #apply(c: Change): Promise<void> {
    if (c.kind === 'network') {
      if (!c.network) {
        this.#networks.delete(c.id)
        for (const [id, e] of [...this.#endpoints]) if (e.networkId === c.id) await this.#remove(id)
        return
      }
      const before = this.#networks.get(c.id)
      const info = this.#ours(c.network) ? netInfo(c.network) : null
      this.#networks.set(c.id, info)
      if (JSON.stringify(before) !== JSON.stringify(info)) {
        for (const e of [...this.#endpoints.values()]) if (e.networkId === c.id) await this.#upsert(e)
      }
      return
    }
    if (c.endpoint) await this.#upsert(c.endpoint)
    else await this.#remove(c.id)
  }

  #ours(n: NetworkRecord): boolean {
    return !!n.host && n.host.dev === this.hostId.dev && n.host.ino === this.hostId.ino
  }

  async #network(id: string): Promise<NetInfo | null> {
    let info = this.#networks.get(id)
    if (info === undefined) {
      const rec = await this.store.network(id)
      info = rec && this.#ours(rec) ? netInfo(rec) : null
      this.#networks.set(id, info)
    }
    return info
  }

  async #upsert(rec: EndpointRecord): Promise<void> {
    const net = await this.#network(rec.networkId)
    if (!net) {
      await this.#remove(rec.id)
      return
    }
    const before = this.#endpoints.get(rec.id)
    this.#endpoints.set(rec.id, rec)
    if (net.dns || rec.ports.length) this.#needy.add(rec.id)
    else this.#needy.delete(rec.id)
    // Names: a connected endpoint of a network with DNS.
    if (net.dns) this.#index.set(rec, net)
    else this.#index.delete(rec.id)
    // Ports: held from beginConnect (the DNAT rules come after prepare) to finishDisconnect.
    try {
      await this.#reservations.hold(rec.id, rec.ports)
      this.#portErrors.delete(rec.id)
    } catch (e) {
      if (!this.#portErrors.has(rec.id)) this.#log(`endpoint ${rec.id} (${rec.name}): cannot hold its ports: ${(e as Error).message}`)
      this.#portErrors.set(rec.id, e as Error)
    }
    // The container's resolver.
    const key = nsKeyOf(rec.ns)
    if (before && nsKeyOf(before.ns) !== key) this.#detach(nsKeyOf(before.ns), rec.id)
    if (net.dns) {
      let c = this.#containers.get(key)
      if (!c) {
        c = { key, ns: rec.ns, endpoints: new Set(), gone: false }
        this.#containers.set(key, c)
        this.#watchPath(rec.ns.path)
      }
      c.endpoints.add(rec.id)
      await this.#ensureResolver(c)
    } else {
      this.#detach(key, rec.id)
    }
  }

  async #remove(id: string): Promise<void> {
    const rec = this.#endpoints.get(id)
    this.#endpoints.delete(id)
    this.#needy.delete(id)
    this.#index.delete(id)
    this.#portErrors.delete(id)
    await this.#reservations.release(id)
    if (rec) this.#detach(nsKeyOf(rec.ns), id)
  }

  #detach(key: string, endpointId: string): void {
    const c = this.#containers.get(key)
    if (!c) return
    c.endpoints.delete(endpointId)
    if (c.endpoints.size) {
      this.#setUpstreams(c)
      return
    }
    this.#containers.delete(key)
    void this.#closeResolver(c)
  }

  async #closeResolver(c: Container): Promise<void> {
    await c.starting?.catch(() => {})
    const r = c.resolver
    c.resolver = undefined
    await r?.close()
  }

  // --- resolvers ----------------------------------------------------------------------------

  /** The networks a container's names come from, in the order of its endpoints. */
  #networksOf(c: Container): string[] {
    const out: string[] = []
    for (const id of c.endpoints) {
      const e = this.#endpoints.get(id)
      if (e && !out.includes(e.networkId)) out.push(e.networkId)
    }
    return out
  }

  /**
   * Where a container's other names go: its first endpoint's own servers (docker --dns), else its
   * first network's configured upstreams, else the host's resolv.conf; none when every network
   * of the container is internal (Docker's internal networks resolve only their own names).
   */
  upstreamsOf(c: Container): string[] {
    const eps = [...c.endpoints].map((id) => this.#endpoints.get(id)).filter((e): e is EndpointRecord => !!e)
    const nets = eps.map((e) => this.#networks.get(e.networkId)).filter((n): n is NetInfo => !!n)
    if (nets.length && nets.every((n) => n.internal)) return []
    for (const e of eps) if (e.dns?.servers?.length && !this.#networks.get(e.networkId)?.internal) return [...e.dns.servers]
    for (const n of nets) if (!n.internal && n.upstream) return [...n.upstream]
    return [...(this.#resolv?.servers ?? [])]
  }

  #setUpstreams(c: Container): void {
    if (!c.resolver) return
    const servers = this.upstreamsOf(c)
    if (
      servers.join(' ') ===
      c.resolver.upstreams.map((u) => (u.port === 53 ? u.address : `${u.address.includes(':') ? `[${u.address}]` : u.address}:${u.port}`)).join(' ')
    )
      return
    try {
      c.resolver.setUpstreams(servers)
    } catch (e) {
      this.#log(`container ${c.ns.path ?? c.key}: bad upstreams ${servers.join(' ')}: ${(e as Error).message}`)
    }
  }

  #refreshUpstreams(): void {
    this.#log(`host resolv.conf: upstreams now [${this.#resolv?.servers.join(' ')}]`)
    for (const c of this.#containers.values()) this.#setUpstreams(c)
  }

  async #ensureResolver(c: Container): Promise<void> {
    if (c.resolver) {
      this.#setUpstreams(c)
      return
    }
    if (c.gone) return
    c.starting ??= this.#startResolver(c).finally(() => {
      c.starting = undefined
    })
    await c.starting
  }

  async #startResolver(c: Container): Promise<void> {
    if (!c.ns.path || nsGone(c.ns)) {
      c.gone = true
      return
    }
    let ns: Namespace | undefined
    try {
      ns = await Namespace.open(c.ns.path)
      const h = handleOf(ns)
      if (String(h.dev) !== c.ns.dev || String(h.ino) !== c.ns.ino) {
        c.gone = true
        return
      }
      const r = await Resolver.start({
        namespace: ns,
        records: this.#index.view(() => this.#networksOf(c)),
        upstream: { servers: this.upstreamsOf(c), namespace: this.host },
      })
      c.error = undefined
      if (this.#containers.get(c.key) !== c || this.#stopping) {
        await r.close()
        return
      }
      c.resolver = r
    } catch (e) {
      c.error = e as Error
      this.#log(`container ${c.ns.path}: cannot start its resolver: ${(e as Error).message}`)
    } finally {
      // The sockets keep the namespace; our handle must not (a deleted namespace must be able to die).
      await ns?.close()
    }
  }

  // --- letting go of dead namespaces --------------------------------------------------------

  /** Watches the directory of a container's namespace file: once the file is gone, we release the namespace. */
  #watchPath(p: string | undefined): void {
    if (!p) return
    if (p.startsWith('/proc/')) {
      this.#procPoll ??= setInterval(() => this.#checkContainers((c) => !!c.ns.path?.startsWith('/proc/')), 200)
      this.#procPoll.unref()
      return
    }
    const dir = p.slice(0, p.lastIndexOf('/')) || '/'
    if (this.#dirWatches.has(dir)) return
    try {
      const w = fs.watch(dir, { persistent: false }, () => this.#checkContainers((c) => !!c.ns.path?.startsWith(dir + '/')))
      w.on('error', () => {
        w.close()
        this.#dirWatches.delete(dir)
      })
      this.#dirWatches.set(dir, w)
    } catch {
      /* no such directory: the periodic check covers it */
    }
  }

  #checkContainers(which: (c: Container) => boolean): void {
    for (const c of this.#containers.values()) {
      if (c.gone || !which(c) || !nsGone(c.ns)) continue
      c.gone = true
      this.#log(`container ${c.ns.path}: its namespace file is gone; closing its resolver`)
      void this.#closeResolver(c)
    }
  }

  /** Our host namespace or our store gone: nothing left to serve. Also the periodic net under inotify. */
  #checkAlive(): void {
    if (this.#stopping) return
    if (this.host.path !== '/proc/self/ns/net' && nsGone({ ...this.hostId, path: this.host.path })) {
      void this.stop(`the host namespace ${this.host.path} is gone`)
      return
    }
    if (!fs.existsSync(this.store.path)) {
      void this.stop(`the store ${this.store.path} is gone`)
      return
    }
    this.#checkContainers(() => true)
  }

  // --- self-healing -------------------------------------------------------------------------

  #watchLinks(): void {
    const w = this.host.watch({ signal: this.#abort.signal, groups: ['link'], persistent: false })
    void (async () => {
      let resync: Set<string> | undefined
      try {
        for await (const ev of w) {
          if (ev.type === 'overrun') resync = new Set()
          else if (ev.type === 'synced') {
            const present = resync ?? new Set<string>()
            resync = undefined
            for (const e of this.#endpoints.values()) if (e.hostIf && !present.has(e.hostIf)) this.#linkGone(e.hostIf)
          } else if (ev.group === 'link' && ev.type === 'new' && ev.resync) resync?.add(ev.link.name)
          else if (ev.group === 'link' && ev.type === 'del') this.#linkGone(ev.link.name)
        }
      } catch (e) {
        if (!this.#stopping) {
          this.#log(`link watch failed: ${(e as Error).message}`)
          void this.stop('the link watch failed')
        }
      }
    })()
  }

  /** A link of the host went away: if it was a connected endpoint's veth, finish that endpoint. */
  #linkGone(hostIf: string): void {
    if (this.#healing.has(hostIf) || this.#stopping) return
    this.#healing.add(hostIf)
    void (async () => {
      try {
        const e = await this.store.endpointByHostIf(this.hostId, hostIf)
        if (!e || e.state !== 'connected') return
        const n = await this.store.network(e.networkId)
        if (!n || n.driver !== 'bridge') return
        // Only a container that died: a host end deleted by hand while its namespace lives is a
        // broken endpoint for check() (CNI CHECK) and gc to report, not one to disconnect. The
        // namespace's file goes before the kernel tears the namespace (and the veth) down; a short
        // grace covers a path still there at the notification.
        if (!(await goneWithin(e.ns, 300))) {
          this.#log(`endpoint ${e.id} (${n.name}/${e.name}): its veth ${hostIf} was deleted but its namespace lives; left as it is`)
          return
        }
        const done = await teardownEndpoint(this.store, this.host, e.id)
        if (done) {
          this.#healed++
          this.#log(`endpoint ${e.id} (${n.name}/${e.name}): its veth ${hostIf} vanished with its namespace; disconnected`)
        }
      } catch (err) {
        this.#log(`endpoint of ${hostIf}: self-healing failed: ${(err as Error).message}`)
      } finally {
        this.#healing.delete(hostIf)
      }
    })()
  }

  // --- requests -----------------------------------------------------------------------------

  /**
   * Before a connect publishes its ports: the endpoint's ports are held (all, or the error of the
   * first that cannot be) and its container's resolver listens.
   */
  async prepare(endpointId: string): Promise<PrepareResult> {
    if (typeof endpointId !== 'string') throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', 'prepare needs an endpoint id')
    await this.sync()
    return this.#exclusive(async () => {
      let rec = this.#endpoints.get(endpointId)
      if (!rec) {
        const r = await this.store.endpoint(endpointId)
        if (!r) throw new NetnsKitError('ERR_NETNS_KIT_NO_ENDPOINT', `no endpoint '${endpointId}' in ${this.store.path}`)
        if (!(await this.#network(r.networkId)))
          throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', `the endpoint '${endpointId}' is not on a network of this companion's host namespace`)
        await this.#upsert(r)
        rec = r
      }
      if (this.#portErrors.has(endpointId)) {
        // Held by a host process then; maybe not any more.
        await this.#upsert(rec)
        const err = this.#portErrors.get(endpointId)
        if (err) throw err
      }
      const c = this.#containers.get(nsKeyOf(rec.ns))
      if (c && !c.resolver && !c.gone) await this.#ensureResolver(c)
      if (c?.error && !c.resolver) throw c.error
      return { ports: this.#reservations.held(endpointId).map(describePort), resolver: !!c?.resolver }
    })
  }

  status(): StatusResult {
    return {
      pid: process.pid,
      seq: this.#seq,
      endpoints: this.#endpoints.size,
      resolvers: [...this.#containers.values()]
        .filter((c) => c.resolver)
        .map((c) => ({
          ns: c.key,
          ...(c.ns.path ? { path: c.ns.path } : {}),
          upstreams: c.resolver!.upstreams.map((u) => `${u.address}:${u.port}`),
        })),
      reservations: [...this.#endpoints.keys()]
        .map((id) => ({ endpoint: id, ports: this.#reservations.held(id).map(describePort) }))
        .filter((r) => r.ports.length),
      healed: this.#healed,
      hostUpstreams: [...(this.#resolv?.servers ?? [])],
      capabilities: capabilities(),
    }
  }

  // --- idling and stopping ------------------------------------------------------------------

  /** Whether any endpoint of our host needs us: one on a network with DNS, or one with published ports. */
  needed(): boolean {
    return this.#needy.size > 0
  }

  #checkIdle(): void {
    if (this.foreground || this.#stopping) return
    clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    if (this.needed()) return
    const idleMs = this.#opts.idleMs ?? 2000
    const wait = Math.max(0, this.#lastRequest + idleMs - Date.now())
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined
      void this.#exclusive(async () => {
        // Once more, with the latest changes: a connect may have just begun.
        await this.#drain()
        if (this.needed() || Date.now() - this.#lastRequest < idleMs) {
          this.#checkIdle()
          return
        }
        void this.stop('no endpoint needs it')
      })
    }, wait + 10)
    this.#idleTimer.unref()
  }

  /** Stops serving: the socket goes first (no new client reaches a companion on its way out), then everything it holds. */
  stop(why: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#log(`stopping: ${why}`)
      clearTimeout(this.#idleTimer)
      clearInterval(this.#checkTimer)
      clearInterval(this.#procPoll)
      if (this.#server) {
        // Unlinked while we still hold the lock: a new companion may bind its own from now on.
        fs.rmSync(this.paths.socket, { force: true })
        this.#server.close()
        for (const c of this.#clients) c.destroy()
      }
      this.#abort.abort()
      this.#unsubscribe?.()
      this.#resolv?.close()
      for (const w of this.#dirWatches.values()) w.close()
      await this.#queue.catch(() => {})
      await Promise.all([...this.#containers.values()].map((c) => this.#closeResolver(c)))
      this.#containers.clear()
      await this.#reservations.closeAll()
      await this.store.close().catch(() => {})
      await this.host.close().catch(() => {})
      // The pid file goes while locked; a starter that opened it before checks after locking that it is still the file there.
      try {
        if (fs.fstatSync(this.#pidFd).ino === fs.statSync(this.paths.pid).ino) fs.rmSync(this.paths.pid, { force: true })
      } catch {
        /* already gone */
      }
      fs.closeSync(this.#pidFd)
      this.#log('stopped')
      this.#exit()
    })()
    return this.#stopping
  }
}

/** Whether the namespace `ns` names is gone, now or within `ms`. */
async function goneWithin(ns: NsIdentity, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (nsGone(ns)) return true
    if (Date.now() >= end) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Opens the host namespace: its own when `hostId` is ours (a path that outlives any caller), else `path`, checked against `hostId`. */
async function openHost(p: string, hostId: string | undefined): Promise<{ host: Namespace; hostId: NsIdentity }> {
  const self = await Namespace.open('/proc/self/ns/net')
  const sh = handleOf(self)
  if (hostId === undefined || hostId === `${sh.dev}:${sh.ino}` || p === '/proc/self/ns/net') {
    if (hostId !== undefined && hostId !== `${sh.dev}:${sh.ino}`) {
      await self.close()
      throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `this process's namespace is not the host namespace ${hostId}`)
    }
    return { host: self, hostId: { dev: String(sh.dev), ino: String(sh.ino), path: '/proc/self/ns/net' } }
  }
  await self.close()
  const host = await Namespace.open(p)
  const h = handleOf(host)
  if (`${h.dev}:${h.ino}` !== hostId) {
    await host.close()
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `${p} is not the host namespace ${hostId} any more`)
  }
  return { host, hostId: { dev: String(h.dev), ino: String(h.ino), path: p } }
}

/**
 * The pid file, opened and flock(2)ed: -1 when another companion holds it. A starter that lost a
 * race to a companion on its way out waits for it (up to 3 s); the lock is only good when the
 * file locked is still the one at the path (the one leaving unlinks it).
 */
async function lockPidFile(paths: CompanionPaths): Promise<number> {
  const deadline = Date.now() + 3000
  for (;;) {
    const fd = fs.openSync(paths.pid, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
    if (tryLock(fd, paths.pid)) {
      let same = false
      try {
        same = fs.fstatSync(fd).ino === fs.statSync(paths.pid).ino
      } catch {
        /* unlinked meanwhile */
      }
      if (same) return fd
    }
    fs.closeSync(fd)
    if (Date.now() > deadline || (await answers(paths.socket))) return -1
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Whether a companion answers on `socket`. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket)
    const done = (v: boolean) => {
      c.destroy()
      resolve(v)
    }
    c.setTimeout(500, () => done(false))
    c.on('error', () => done(false))
    c.on('connect', () => c.write(JSON.stringify({ id: 1, op: 'hello' }) + '\n'))
    c.on('data', () => done(true))
  })
}
