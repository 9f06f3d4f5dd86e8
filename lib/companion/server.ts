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
import { NetnsKitError } from '../errors'
import type { EndpointRecord, NsIdentity } from '../ipam/network-store'
import { SqliteStore } from '../ipam/sqlite-store'
import { Namespace } from '../namespace'
import { HostResolvConf } from './host-resolv'
import { NameIndex } from './names'
import { companionPaths, ensureRunDir, type CompanionPaths } from './paths'
import { lineSplitter, toWire, type HelloResult, type PrepareResult, type Reply, type Request, type StatusResult } from './protocol'
import { Reservations, describePort } from './reservations'
import { nsKeyOf, type Container, type NetInfo, type ServerInternals, netInfo } from './server-state'
import { capabilities, lockPidFile, openHost } from './server-host'
import { closeResolver, refreshUpstreams, upstreamsOfContainer } from './server-resolvers'
import { checkAlive, checkContainers, watchLinks } from './server-watch'
import { applyChange, prepareEndpoint, removeEndpoint, upsertEndpoint } from './server-records'

/** How long a companion that no client has reached yet stays, whatever its idleMs (ms). */
const FIRST_CLIENT_MS = 5000

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

export { netInfo } from './server-state'

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
  /** Resolvers being started (side by side, outside the queue of changes): sync() waits for them. */
  readonly #starts = new Set<Promise<void>>()
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
  #sweepTimer: NodeJS.Timeout | undefined
  #procPoll: NodeJS.Timeout | undefined
  readonly #dirWatches = new Map<string, fs.FSWatcher>()
  #lastRequest = Date.now()
  /** A client has connected: until then it lingers at least FIRST_CLIENT_MS (its starter is on its way). */
  #served = false
  #healed = 0
  #stopping: Promise<void> | undefined
  readonly exited: Promise<void>
  #exit!: () => void
  readonly #st: ServerInternals

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
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    this.#st = {
      server: this,
      log: this.#log,
      index: this.#index,
      networks: this.#networks,
      endpoints: this.#endpoints,
      containers: this.#containers,
      healing: this.#healing,
      starts: this.#starts,
      dirWatches: this.#dirWatches,
      abort: this.#abort,
      needy: this.#needy,
      portErrors: this.#portErrors,
      reservations: this.#reservations,
      get resolv() {
        return self.#resolv
      },
      get stopping() {
        return self.#stopping
      },
      get procPoll() {
        return self.#procPoll
      },
      set procPoll(t) {
        self.#procPoll = t
      },
      get healed() {
        return self.#healed
      },
      set healed(n) {
        self.#healed = n
      },
    }
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
    this.#resolv = new HostResolvConf(this.#opts.resolvConf ?? '/etc/resolv.conf', () => this.#exclusive(() => refreshUpstreams(this.#st)))
    this.#seq = await this.store.sequence()
    await this.#exclusive(() => this.#rebuild())
    await this.#started()
    this.#unsubscribe = this.store.onChange(() => this.#kick())
    watchLinks(this.#st)
    this.#checkTimer = setInterval(() => checkAlive(this.#st), 500)
    this.#checkTimer.unref()
    // Every container's namespace file looked at: the net under inotify (directory events name
    // the entry that changed), so not often.
    this.#sweepTimer = setInterval(() => checkContainers(this.#st, () => true), 5000)
    this.#sweepTimer.unref()
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
    // Idle from now, when callers can reach it (not from when it began to start).
    this.#lastRequest = Date.now()
  }

  #onClient(c: net.Socket): void {
    if (!this.#served) {
      this.#served = true
      this.#checkIdle() // its own idleMs from now on
    }
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
    await this.#started()
  }

  /** Resolves once every resolver being started has started (or failed: its error is the container's). */
  async #started(): Promise<void> {
    while (this.#starts.size) await Promise.all([...this.#starts])
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
    for (const c of b.changes) await applyChange(this.#st, c)
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
        await upsertEndpoint(this.#st, e)
      }
    }
    for (const id of [...this.#endpoints.keys()]) if (!seen.has(id)) await removeEndpoint(this.#st, id)
    this.#checkIdle()
  }

  // --- resolvers ----------------------------------------------------------------------------

  /**
   * Where a container's other names go: its first endpoint's own servers (docker --dns), else its
   * first network's configured upstreams, else the host's resolv.conf; none when every network
   * of the container is internal (Docker's internal networks resolve only their own names).
   */
  upstreamsOf(c: Container): string[] {
    return upstreamsOfContainer(this.#st, c)
  }

  // --- letting go of dead namespaces --------------------------------------------------------

  // --- self-healing -------------------------------------------------------------------------

  // --- requests -----------------------------------------------------------------------------

  /**
   * Before a connect publishes its ports: the endpoint's ports are held (all, or the error of the
   * first that cannot be) and its container's resolver listens.
   */
  async prepare(endpointId: string): Promise<PrepareResult> {
    if (typeof endpointId !== 'string') throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', 'prepare needs an endpoint id')
    await this.sync()
    return this.#exclusive(() => prepareEndpoint(this.#st, endpointId))
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
    // Started on demand, it waits for the caller that started it whatever idleMs says: under load
    // its start-up can take longer than a short idleMs, and it would exit before anyone connected.
    const idleMs = Math.max(this.#opts.idleMs ?? 2000, this.#served ? 0 : FIRST_CLIENT_MS)
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
      clearInterval(this.#sweepTimer)
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
      await Promise.all([...this.#containers.values()].map((c) => closeResolver(c)))
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
