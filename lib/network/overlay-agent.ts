// The per-host overlay agent: holds this host's membership in etcd under a lease, announces the
// endpoints of this host, watches everyone else's, and programs this host's vxlan devices (static
// FDB entries towards the remote VTEPs, the all-zeros flood list, static neighbours for proxy ARP).
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3'
import { NetnsKitError, invalidArg } from '../errors'
import { etcdClient, storeError, withDeadline, type EtcdConnectOptions } from '../ipam/etcd-client'
import { EtcdNetworkStore } from '../ipam/etcd-network-store'
import { Link } from '../link'
import type { Namespace } from '../namespace'
import { checkIfName, checkInt, checkUnicastIp } from '../validate'
import type { Vxlan } from '../vxlan'
import { programVxlan } from './overlay-fdb'

/** One endpoint of an overlay network as etcd holds it (key `PREFIX overlay/endpoints/NETWORK/ID`). */
export interface OverlayEndpointRecord {
  network: string
  /** The endpoint id (unique in its network). */
  id: string
  /** Its address on the overlay ('10.90.0.5'). */
  ip: string
  mac: string
  /** The underlay address of the host it lives on (its VTEP). */
  vtep: string
  hostId: string
}

/** What this host keeps about its own endpoints (persistent, not under the lease): enough to announce them again after a restart. */
interface LocalRecord extends OverlayEndpointRecord {
  /** The host end of its veth, in the underlay namespace: the endpoint exists while this link does. */
  hostIf: string
}

export interface OverlayAgentOptions extends EtcdConnectOptions {
  /** This host's name in etcd: 1 to 64 letters, digits, '_', '.', '-'. */
  hostId: string
  underlay: {
    /** The namespace playing this host: where the bridges and vxlan devices live. */
    namespace: Namespace
    /** This host's VTEP address on the underlay (an address of `namespace`). */
    address: string
    /** The underlay device the vxlan devices send through (optional). */
    device?: Link | string
  }
  /** Lease TTL in seconds (default 10; etcd's minimum is about 2). Entries of a host that stops vanish this long after. */
  leaseTtl?: number
  /** Keys live under this prefix (default 'netns-kit/'). */
  prefix?: string
  /** Told about failures of the background work (watch, reconcile, keepalive); they are retried. */
  onError?: (e: Error) => void
}

/** How one reconcile pass changed the kernel. */
export interface ReconcileReport {
  network: string
  added: number
  removed: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * One per host, embedded by a runtime (`OverlayAgent.start`). It registers the host under an
 * etcd lease kept alive in the background; its endpoints' records are attached to that lease,
 * so when the host dies they vanish from etcd after `leaseTtl` seconds and every other agent
 * removes the host's entries from its kernel. For each network attached (`attach`), it keeps
 * the vxlan device's FDB and neighbour table equal to what etcd says about the other hosts:
 *
 * - `bridge fdb replace MAC dev VXLAN dst VTEP self permanent` per remote endpoint,
 * - `bridge fdb append 00:00:00:00:00:00 dev VXLAN dst VTEP self permanent` per remote host (BUM traffic),
 * - `ip neigh replace IP lladdr MAC dev VXLAN nud permanent` per remote endpoint (answered by the
 *   vxlan device's proxy ARP, as Docker's overlay does).
 *
 * Only static (`self`) FDB entries and permanent neighbours on the attached vxlan devices are
 * touched: they are the agent's. A restarted agent reconciles: it announces again the endpoints
 * of this host whose veth still exists, forgets (and releases the addresses of) those that are
 * gone, and brings the kernel to what etcd says, adding what is missing and removing what is stale.
 */
export class OverlayAgent {
  readonly hostId: string
  readonly namespace: Namespace
  readonly address: string
  readonly device: Link | string | undefined
  readonly prefix: string
  readonly leaseTtl: number
  readonly client: Etcd3
  /**
   * The state store in the same etcd (prefix `PREFIX state/`, this host's id in its namespace
   * keys): the overlay networks and their endpoints, with their addresses.
   */
  readonly store: EtcdNetworkStore
  readonly #owned: boolean
  readonly #endpoints: string
  readonly #timeoutMs: number
  readonly #onError: (e: Error) => void
  #lease: Lease | undefined
  #leaseId: string | undefined
  #watcher: Watcher | undefined
  #stopped = false
  /** Every endpoint record in etcd, by key. */
  readonly #records = new Map<string, OverlayEndpointRecord>()
  /** This host's endpoints, by key of their announcement. */
  readonly #local = new Map<string, LocalRecord>()
  readonly #attached = new Map<string, Vxlan>()
  readonly #runs = new Map<string, { running: Promise<void>; again: boolean }>()
  readonly #waiters = new Set<() => void>()
  /** The last background failure, for inspection. */
  lastError: Error | undefined

  private constructor(opts: OverlayAgentOptions, c: ReturnType<typeof etcdClient>) {
    this.hostId = opts.hostId
    this.namespace = opts.underlay.namespace
    this.address = opts.underlay.address
    this.device = opts.underlay.device
    this.prefix = opts.prefix ?? 'netns-kit/'
    this.leaseTtl = opts.leaseTtl ?? 10
    this.client = c.client
    this.#owned = c.owned
    this.#endpoints = c.endpoints
    this.#timeoutMs = c.timeoutMs
    this.#onError = opts.onError ?? (() => {})
    this.store = new EtcdNetworkStore({ etcd: c.client, prefix: `${this.prefix}state/`, hostId: this.hostId, timeoutMs: c.timeoutMs })
  }

  /**
   * Registers this host (key `PREFIX overlay/hosts/HOSTID` under a new lease), announces again
   * the endpoints of this host that still exist, and starts watching every endpoint record.
   * Rejects with ERR_NETNS_KIT_STORE_UNAVAILABLE when etcd cannot be reached (nothing changed).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad options (hostId, underlay namespace, address or device, leaseTtl, prefix, etcd endpoints or client, timeoutMs), before etcd is contacted.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable within the client's timeout) or `ERR_NETNS_KIT_STORE` (another etcd failure); any other failure while starting (reading the underlay's links included) is `ERR_NETNS_KIT_STORE` with the original as `cause`, except a NetnsKitError, such as `ERR_NETNS_KIT_CLOSED` for a closed underlay namespace, which passes as it is. The lease is revoked and the agent stopped first.
   */
  static async start(opts: OverlayAgentOptions): Promise<OverlayAgent> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    if (typeof opts.hostId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(opts.hostId)) {
      throw invalidArg('opts.hostId', opts.hostId, "must be 1 to 64 letters, digits, '_', '.', '-', starting with a letter or digit")
    }
    const u = opts.underlay
    if (!u || typeof u !== 'object' || !u.namespace || typeof u.namespace.equals !== 'function') {
      throw invalidArg('opts.underlay.namespace', u?.namespace, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
    }
    checkUnicastIp(u.address, 'opts.underlay.address')
    if (u.device !== undefined && !(u.device instanceof Link)) checkIfName(u.device, 'opts.underlay.device')
    if (u.device instanceof Link && !u.device.namespace.equals(u.namespace))
      throw invalidArg('opts.underlay.device', u.device.name, 'must be in opts.underlay.namespace')
    if (opts.leaseTtl !== undefined) checkInt(opts.leaseTtl, 'opts.leaseTtl', 1, 86400)
    if (opts.prefix !== undefined && (typeof opts.prefix !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(opts.prefix))) {
      throw invalidArg('opts.prefix', opts.prefix, 'must be 1 to 200 printable characters')
    }
    const agent = new OverlayAgent(opts, etcdClient(opts))
    try {
      await agent.#register()
      await agent.#restoreLocal()
      await agent.#watch()
    } catch (e) {
      await agent.stop({ revoke: true }).catch(() => {})
      throw storeError(e, agent.#endpoints, `overlay agent ${opts.hostId}`)
    }
    return agent
  }

  /** The id of this host's current lease (`etcdctl lease list`); a new one after a lease was lost. */
  get leaseId(): string | undefined {
    return this.#leaseId
  }

  #call<T>(p: Promise<T>, what: string): Promise<T> {
    return withDeadline(p, this.#timeoutMs, this.#endpoints, what)
  }

  #hostKey(): string {
    return `${this.prefix}overlay/hosts/${this.hostId}`
  }
  #epPrefix(network = ''): string {
    return `${this.prefix}overlay/endpoints/${network ? `${network}/` : ''}`
  }
  #epKey(network: string, id: string): string {
    return `${this.#epPrefix(network)}${id}`
  }
  #localPrefix(): string {
    return `${this.prefix}overlay/local/${this.hostId}/`
  }
  #localKey(network: string, id: string): string {
    return `${this.#localPrefix()}${network}/${id}`
  }

  /** A new lease with this host's key on it; lost leases (etcd away longer than the TTL) are granted again. */
  async #register(): Promise<void> {
    const lease = this.client.lease(this.leaseTtl)
    this.#lease = lease
    lease.on('lost', (err) => {
      if (this.#stopped || this.#lease !== lease) return
      this.#report(storeError(err, this.#endpoints, `lease of ${this.hostId} lost`))
      void this.#relet()
    })
    this.#leaseId = await this.#call(lease.grant(), `grant a lease for ${this.hostId}`)
    await this.#call(
      lease
        .put(this.#hostKey())
        .value(JSON.stringify({ hostId: this.hostId, vtep: this.address, since: new Date().toISOString() }))
        .exec(),
      `register host ${this.hostId}`,
    )
  }

  async #relet(): Promise<void> {
    for (let i = 0; !this.#stopped; i++) {
      try {
        await this.#register()
        for (const [key, rec] of this.#local)
          await this.#call(
            this.#lease!.put(key)
              .value(JSON.stringify(publicRecord(rec)))
              .exec(),
            `announce ${key}`,
          )
        return
      } catch (e) {
        this.#report(e as Error)
        await sleep(Math.min(5000, 250 * 2 ** Math.min(i, 5)))
      }
    }
  }

  /** Announces again this host's endpoints whose veth still exists; forgets the others and gives their records (and addresses) up. */
  async #restoreLocal(): Promise<void> {
    const r = await this.#call(this.client.getAll().prefix(this.#localPrefix()).exec(), "read this host's endpoints")
    if (r.kvs.length === 0) return
    const links = new Set((await this.namespace.links()).map((l) => l.name))
    for (const kv of r.kvs) {
      const rec = JSON.parse(kv.value.toString()) as LocalRecord
      if (links.has(rec.hostIf)) {
        // It may have moved to another underlay address since.
        const fresh = { ...rec, vtep: this.address, hostId: this.hostId }
        await this.#put(fresh)
      } else {
        await this.#call(this.client.delete().key(kv.key.toString()).exec(), 'forget a vanished endpoint')
        await this.#forget(rec.id).catch((e: Error) => this.#report(e))
      }
    }
  }

  /** The disconnect sequence in the store for an endpoint whose veth vanished (absent or busy: left as it is). */
  async #forget(id: string): Promise<void> {
    const s = await this.store.beginDisconnect(id)
    if (s.status === 'started') await this.store.finishDisconnect(id)
  }

  async #put(rec: LocalRecord): Promise<void> {
    const key = this.#epKey(rec.network, rec.id)
    const c = this.client
    const leaseId = await this.#call(this.#lease!.grant(), 'lease')
    // One transaction: the persistent local record and the announcement under the lease.
    await this.#call(
      c
        .if(key, 'Version', '>', -1)
        .then(
          c.put(this.#localKey(rec.network, rec.id)).value(JSON.stringify(rec)),
          c
            .put(key)
            .value(JSON.stringify(publicRecord(rec)))
            .lease(leaseId),
        )
        .commit() as Promise<unknown>,
      `announce endpoint ${rec.network}/${rec.id}`,
    )
    this.#local.set(key, rec)
  }

  /** Reads every endpoint record, then watches from the next revision (no event lost in between). */
  async #watch(): Promise<void> {
    const r = await this.#call(this.client.getAll().prefix(this.#epPrefix()).exec(), 'read the endpoints')
    for (const kv of r.kvs) this.#apply('put', kv)
    const watcher = await this.#call(
      this.client
        .watch()
        .prefix(this.#epPrefix())
        .startRevision(String(Number(r.header.revision) + 1))
        .create(),
      'watch the endpoints',
    )
    this.#watcher = watcher
    watcher.on('put', (kv) => this.#apply('put', kv))
    watcher.on('delete', (kv) => this.#apply('delete', kv))
    watcher.on('error', (e) => this.#report(storeError(e, this.#endpoints, 'watch of the endpoints')))
  }

  #apply(kind: 'put' | 'delete', kv: IKeyValue): void {
    const key = kv.key.toString()
    const network = key.slice(this.#epPrefix().length).split('/')[0]!
    if (kind === 'put') {
      try {
        this.#records.set(key, JSON.parse(kv.value.toString()) as OverlayEndpointRecord)
      } catch {
        this.#report(new NetnsKitError('ERR_NETNS_KIT_STORE', `endpoint record ${key} is not JSON`))
        return
      }
    } else {
      this.#records.delete(key)
    }
    for (const w of this.#waiters) w()
    if (this.#attached.has(network)) this.#schedule(network)
  }

  #report(e: Error): void {
    this.lastError = e
    try {
      this.#onError(e)
    } catch {
      /* the callback's own failure is not ours */
    }
  }

  /** Runs a reconcile of `network` now, or once more after the one running (changes are coalesced). */
  #schedule(network: string): Promise<void> {
    const cur = this.#runs.get(network)
    if (cur) {
      cur.again = true
      return cur.running
    }
    const state = { running: Promise.resolve(), again: false }
    state.running = (async () => {
      try {
        do {
          state.again = false
          await this.#reconcileNow(network).catch(async (e: Error) => {
            this.#report(e)
            if (!this.#stopped && this.#attached.has(network)) {
              await sleep(500)
              state.again = true
            }
          })
        } while (state.again && !this.#stopped && this.#attached.has(network))
      } finally {
        this.#runs.delete(network)
      }
    })()
    this.#runs.set(network, state)
    return state.running
  }

  /**
   * Keeps `vxlan` (a vxlan device of this host, in the underlay namespace or a namespace of its
   * own) programmed for `network` from now on; resolves once it has been brought in line with etcd.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STOPPED` after stop().
   * @throws {NetlinkError} when the kernel refuses an FDB or neighbour dump or change on the vxlan device (`code`, `errno`, `syscall` such as `'RTM_NEWNEIGH'`, `extack`); the entries already changed stay, and the network stays attached (retried on the next change).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN).
   */
  async attach(network: string, vxlan: Vxlan): Promise<ReconcileReport> {
    this.#live()
    this.#attached.set(network, vxlan)
    return this.reconcile(network)
  }

  /**
   * Stops programming `network` (its entries stay in the kernel).
   * @throws Nothing: a network not attached, or an agent stopped, is not an error.
   */
  detach(network: string): void {
    this.#attached.delete(network)
  }

  /**
   * Brings the kernel in line with etcd for `network` now (`bridge fdb` / `ip neigh` on its vxlan device).
   * A network not attached (or an agent stopped) is an empty report, not an error.
   * @throws {NetlinkError} when the kernel refuses an FDB or neighbour dump or change on the vxlan device (`code`, `errno`, `syscall` such as `'RTM_NEWNEIGH'`, `extack`); the entries already changed stay.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN).
   */
  async reconcile(network: string): Promise<ReconcileReport> {
    // Wait for a pass that was running, then do one of our own with a report.
    await this.#runs.get(network)?.running
    return this.#reconcileNow(network)
  }

  async #reconcileNow(network: string): Promise<ReconcileReport> {
    const vx = this.#attached.get(network)
    if (!vx) return { network, added: 0, removed: 0 }
    const remote = [...this.#records.values()].filter((r) => r.network === network && r.hostId !== this.hostId)
    return { network, ...(await programVxlan(vx, remote)) }
  }

  /**
   * Announces an endpoint of this host: its record goes to etcd under this host's lease (and a
   * persistent copy for restarts). `hostIf` is the host end of its veth in the underlay namespace.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STOPPED` after stop(); `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable within the client's timeout) or `ERR_NETNS_KIT_STORE` (another etcd failure) (the endpoint may be announced or not: withdraw() it).
   */
  async announce(ep: { network: string; id: string; ip: string; mac: string; hostIf: string }): Promise<OverlayEndpointRecord> {
    this.#live()
    const rec: LocalRecord = { network: ep.network, id: ep.id, ip: ep.ip, mac: ep.mac, vtep: this.address, hostId: this.hostId, hostIf: ep.hostIf }
    await this.#put(rec)
    return publicRecord(rec)
  }

  /**
   * Withdraws an endpoint of this host from etcd (both its records); idempotent.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable within the client's timeout) or `ERR_NETNS_KIT_STORE` (another etcd failure); after stop() with a client the agent made, the client is closed: `ERR_NETNS_KIT_STORE_UNAVAILABLE`.
   */
  async withdraw(network: string, id: string): Promise<void> {
    const key = this.#epKey(network, id)
    const c = this.client
    await this.#call(
      c
        .if(key, 'Version', '>', -1)
        .then(c.delete().key(key), c.delete().key(this.#localKey(network, id)))
        .commit() as Promise<unknown>,
      `withdraw endpoint ${network}/${id}`,
    )
    this.#local.delete(key)
  }

  /**
   * The endpoint records this agent knows (from its watch), of one network or all.
   * @throws Nothing: it reads the agent's memory (possibly stale while etcd is unreachable).
   */
  records(network?: string): OverlayEndpointRecord[] {
    return [...this.#records.values()].filter((r) => network === undefined || r.network === network)
  }

  /**
   * The hosts registered now (`etcdctl get --prefix PREFIX overlay/hosts/`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE_UNAVAILABLE` (etcd unreachable within the client's timeout) or `ERR_NETNS_KIT_STORE` (another etcd failure).
   * @throws {SyntaxError} when a host key in etcd does not hold JSON (written by something else than an agent).
   */
  async hosts(): Promise<{ hostId: string; vtep: string }[]> {
    const r = await this.#call(this.client.getAll().prefix(`${this.prefix}overlay/hosts/`).exec(), 'list hosts')
    return r.kvs.map((kv) => JSON.parse(kv.value.toString()) as { hostId: string; vtep: string })
  }

  /**
   * Resolves when `pred` holds for this agent's view of the endpoint records (or rejects after `timeoutMs`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_TIMEOUT` when `pred` does not hold within `timeoutMs`.
   * @throws {Error} what `pred` throws on its first call (later calls run in the watch's event handler: do not let it throw).
   */
  async waitFor(pred: (records: OverlayEndpointRecord[]) => boolean, timeoutMs = 5000): Promise<void> {
    if (pred(this.records())) return
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred(this.records())) {
          done()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new NetnsKitError('ERR_NETNS_KIT_TIMEOUT', `condition not met within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(check)
      }
      this.#waiters.add(check)
    })
  }

  #live(): void {
    if (this.#stopped) throw new NetnsKitError('ERR_NETNS_KIT_STOPPED', `the overlay agent ${this.hostId} is stopped`)
  }

  /**
   * Stops the agent. `revoke: true` (default) revokes the lease: the host and its endpoints leave
   * etcd at once. `revoke: false` only stops the keepalives, as a crash would: they leave when the
   * lease expires. Kernel entries stay either way. Idempotent.
   * @throws Nothing: failures to cancel the watch, revoke the lease or close the store are ignored (an unrevoked lease expires after `leaseTtl`).
   */
  async stop(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#attached.clear()
    await this.#watcher?.cancel().catch(() => {})
    const lease = this.#lease
    if (lease) {
      if (opts.revoke ?? true) await this.#call(lease.revoke(), 'revoke the lease').catch(() => {})
      else lease.release()
    }
    await Promise.allSettled([...this.#runs.values()].map((r) => r.running))
    await this.store.close().catch(() => {})
    if (this.#owned) this.client.close()
  }

  /**
   * stop() (revoking the lease), for `await using`.
   * @throws Nothing: as stop().
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

function publicRecord(r: OverlayEndpointRecord): OverlayEndpointRecord {
  return { network: r.network, id: r.id, ip: r.ip, mac: r.mac, vtep: r.vtep, hostId: r.hostId }
}
