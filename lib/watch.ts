// rtnetlink notifications of a namespace as an async iterator: `ip -n NS monitor link address
// route neigh`. A subscription socket opened inside the namespace (on a namespace thread) and
// read on the Node event loop without blocking (a uv_poll on the non-blocking socket, see
// native/napi/watch.cc); messages decoded by the same decoders as links()/addresses()/routes()/
// neighbours() and converted to the same public shapes.
//
// Losses are never silent: when the kernel drops notifications (the receive buffer overran), the
// iterator yields { type: 'overrun' }, then a fresh dump of the subscribed groups as 'new' events
// marked resync: true, then { type: 'synced' }, then the notifications that came after the dump
// started. Reading pauses while the consumer is `highWaterMark` events behind (the kernel's
// buffer queues meanwhile, and overruns if the consumer falls too far behind): memory stays
// bounded whatever the rate of changes.
import { addressInfo, fdbEntry, linkInfo, neighbourEntry, routeInfo } from './convert'
import { invalidArg } from './errors'
import type { NativeAddr, NativeLink, NativeNeigh, NativeRoute } from './kernel/binding'
import { openWatch, type NativeWatchEvent, type NativeWatcher, type NativeWatchStats } from './kernel/diag'
import { toError } from './kernel/errors'
import { handleOf } from './kernel/handles'
import { run, type Op } from './kernel/rtnl'
import { checkInt } from './validate'
import type { Namespace } from './namespace'
import type { AddressInfo, FdbEntry, LinkInfo, NeighbourEntry, RouteInfo } from './types'

export type WatchGroup = 'link' | 'address' | 'route' | 'neighbour'

/** The rtnetlink notification types of each group: RTM_NEW*, RTM_DEL* (linux/rtnetlink.h). */
const RTM_TYPES: Record<WatchGroup, { new: number; del: number }> = {
  link: { new: 16, del: 17 },
  address: { new: 20, del: 21 },
  route: { new: 24, del: 25 },
  neighbour: { new: 28, del: 29 },
}

export interface WatchOptions {
  /** Aborting closes the socket; a pending or later next() rejects with an AbortError (as events.on()). */
  signal?: AbortSignal
  /** The groups to follow (default: all four). */
  groups?: readonly WatchGroup[]
  /** The socket's receive buffer in bytes (default 8 MiB; the kernel doubles it for its bookkeeping). */
  receiveBuffer?: number
  /** Events queued unread before reading pauses (default 1024). */
  highWaterMark?: number
  /** Start with a dump of the groups ('new' events marked resync: true, then 'synced'). */
  initial?: boolean
  /** Keep the process running while the watch is open (default true, as fs.watch). */
  persistent?: boolean
  /**
   * The notifications to yield (default both): `['del']` follows only deletions (a link, address,
   * route or neighbour gone), `['new']` only creations and changes. The kernel drops the others
   * before they are queued (a socket filter on the message type: no wakeup, copy or decoding for
   * them), so a watch of link deletions stays idle while links are made and changed by the
   * thousand. The link notifications are all read, and the unwanted ones left out, when other
   * groups are watched too (they name the devices of the other events). A resync's dump, and
   * `initial`'s, is yielded whole ('new' events marked resync: true), as without this option. Where
   * the kernel refuses the filter (a sandboxed kernel), the types are left out here instead.
   */
  events?: readonly ('new' | 'del')[]
}

/** The marker on events that are part of a resync dump rather than notifications. */
export interface Resync {
  /** Part of a dump taken after an overrun (or at the start, with `initial`), not a notification. */
  resync?: true
}

/** One notification (or marker) of a watch. 'new' covers changes to an existing object too, as RTM_NEW* does. */
export type WatchEvent =
  | ({ type: 'new' | 'del'; group: 'link'; link: LinkInfo } & Resync)
  | ({ type: 'new' | 'del'; group: 'address'; address: AddressInfo } & Resync)
  | ({ type: 'new' | 'del'; group: 'route'; route: RouteInfo } & Resync)
  /** An ARP/NDP entry (`neighbour`) or, for a bridge or vxlan device, a forwarding-database entry (`fdb`). */
  | ({ type: 'new' | 'del'; group: 'neighbour'; neighbour?: NeighbourEntry; fdb?: FdbEntry } & Resync)
  /** The kernel dropped notifications: a resync follows. */
  | { type: 'overrun' }
  /** The end of a resync: objects it did not list are gone. */
  | { type: 'synced' }

export interface NamespaceWatch extends AsyncIterableIterator<WatchEvent> {
  /** Resolves once the socket is subscribed: every change made after it is reported. */
  readonly ready: Promise<void>
  /**
   * Closes the socket (as `break` or return() does); idempotent. Pending next() calls end (done).
   * @throws Nothing: closing twice is allowed.
   */
  close(): void
  /**
   * What the reader saw so far (datagrams, events, overruns, ...); undefined until the socket is open (`ready`); still readable after close() (`closed: true`).
   * @throws Nothing: it only reads this object's fields.
   */
  stats(): NativeWatchStats | undefined
}

const GROUPS: readonly WatchGroup[] = ['link', 'address', 'route', 'neighbour']

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' })
}

class Watch implements NamespaceWatch {
  readonly ready: Promise<void>
  readonly #ns: Namespace
  readonly #groups: ReadonlySet<WatchGroup>
  /** The notification types yielded ('new', 'del'). */
  readonly #events: ReadonlySet<'new' | 'del'>
  /** Link names are needed to name the devices of addresses, routes and neighbours. */
  readonly #needNames: boolean
  readonly #hwm: number
  readonly #persistent: boolean
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = () => this.#fail(abortError(this.#signal!), true)
  #native: NativeWatcher | undefined
  #queue: WatchEvent[] = []
  #waiters: { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (e: unknown) => void }[] = []
  #closed = false
  #error: { err: unknown } | undefined
  #dumping = false
  #names = new Map<number, string>()

  constructor(ns: Namespace, opts: WatchOptions) {
    if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const groups = opts.groups ?? GROUPS
    if (!Array.isArray(groups) || groups.length === 0 || groups.some((g) => !GROUPS.includes(g))) {
      throw invalidArg('opts.groups', groups, "must be a non-empty array of 'link', 'address', 'route', 'neighbour'")
    }
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal))
      throw invalidArg('opts.signal', opts.signal, 'must be an AbortSignal', 'ERR_INVALID_ARG_TYPE')
    const receiveBuffer = opts.receiveBuffer === undefined ? undefined : checkInt(opts.receiveBuffer, 'opts.receiveBuffer', 1, 2 ** 30)
    this.#hwm = opts.highWaterMark === undefined ? 1024 : checkInt(opts.highWaterMark, 'opts.highWaterMark', 1, 2 ** 31 - 1)
    if (opts.initial !== undefined && typeof opts.initial !== 'boolean')
      throw invalidArg('opts.initial', opts.initial, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    if (opts.persistent !== undefined && typeof opts.persistent !== 'boolean')
      throw invalidArg('opts.persistent', opts.persistent, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
    const events = opts.events ?? (['new', 'del'] as const)
    if (!Array.isArray(events) || events.length === 0 || events.some((t) => t !== 'new' && t !== 'del'))
      throw invalidArg('opts.events', events, "must be a non-empty array of 'new', 'del'")
    this.#events = new Set(events)
    this.#persistent = opts.persistent !== false
    this.#ns = ns
    this.#groups = new Set(groups)
    this.#needNames = groups.some((g) => g !== 'link')
    this.#signal = opts.signal
    const handle = handleOf(ns) // a closed namespace fails here, synchronously
    if (this.#signal?.aborted) throw abortError(this.#signal)
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.ready = this.#open(handle, receiveBuffer, opts.initial === true)
    this.ready.catch(() => {}) // the same error is thrown by next()
  }

  async #open(handle: ReturnType<typeof handleOf>, receiveBuffer: number | undefined, initial: boolean): Promise<void> {
    // The link group is followed whenever names are needed, to keep them current.
    const groups = [...new Set<WatchGroup>([...this.#groups, ...(this.#needNames ? ['link' as const] : [])])]
    // The types no one reads, dropped by the kernel. Where names are needed (the devices of the
    // other groups' events) every link notification is read, its new and its del, and the ones not
    // asked for are left out below.
    const drop: number[] = []
    for (const g of this.#groups) {
      if (g === 'link' && this.#needNames) continue
      for (const t of ['new', 'del'] as const) if (!this.#events.has(t)) drop.push(RTM_TYPES[g][t])
    }
    let w: NativeWatcher
    try {
      w = await openWatch(this.#ns, handle, { groups, ...(receiveBuffer !== undefined ? { receiveBuffer } : {}), ...(drop.length ? { drop } : {}) })
    } catch (err) {
      this.#fail(err)
      throw err
    }
    if (this.#closed) {
      // closed or aborted while opening
      w.close()
      if (this.#error) throw this.#error.err
      return
    }
    this.#native = w
    w.start((batch) => this.#onBatch(batch), this.#persistent)
    if (initial) void this.#dump(true)
    else if (this.#needNames) void this.#dump(false)
  }

  #onBatch(batch: NativeWatchEvent[]): void {
    if (this.#closed) return
    for (const ev of batch) {
      if (ev.type === 'error') {
        this.#fail(toError(ev, { object: `the watch of ${this.#ns}` }))
        return
      }
      if (ev.type === 'overrun') {
        // The reader drained the socket and stopped: the dump below is newer than every loss.
        this.#push({ type: 'overrun' })
        void this.#dump(true)
        return
      }
      const out = this.#convert(ev)
      if (out) this.#push(out)
    }
    this.#flow()
  }

  #convert(ev: Exclude<NativeWatchEvent, { type: 'overrun' | 'error' }>, resync = false): WatchEvent | undefined {
    const mark = resync ? { resync: true as const } : {}
    // Names are kept only for the other groups' events (a link's 'new' and 'del' are then both read).
    if (ev.group === 'link' && this.#needNames) {
      if (ev.type === 'del') this.#names.delete(ev.link.index)
      else this.#names.set(ev.link.index, ev.link.name)
    }
    // A type not asked for (a link's 'new' kept for its name): a resync's dump is yielded whole.
    if (!resync && !this.#events.has(ev.type)) return undefined
    switch (ev.group) {
      case 'link': {
        return this.#groups.has('link') ? { type: ev.type, group: 'link', link: linkInfo(ev.link), ...mark } : undefined
      }
      case 'address':
        return { type: ev.type, group: 'address', address: addressInfo(ev.addr, this.#names), ...mark }
      case 'route':
        return { type: ev.type, group: 'route', route: routeInfo(ev.route, this.#names), ...mark }
      case 'neighbour': {
        const n = ev.neigh
        if (n.family === 'bridge') return { type: ev.type, group: 'neighbour', fdb: fdbEntry(n, this.#names), ...mark }
        if (n.family === 4 || n.family === 6) return { type: ev.type, group: 'neighbour', neighbour: neighbourEntry(n, this.#names), ...mark }
        return undefined // another family's neighbours (none is subscribed today)
      }
    }
  }

  /**
   * A dump of the groups on the namespace's rtnetlink socket while reading is paused. With
   * `emit` (a resync, or `initial`) its objects are yielded as 'new' events marked resync: true
   * and 'synced'; otherwise (the start of a watch that needs link names) it only learns the names.
   */
  async #dump(emit: boolean): Promise<void> {
    this.#dumping = true
    this.#flow()
    const ns = this.#ns
    const ops: Op[] = []
    const kinds: WatchGroup[] = []
    const want = (g: WatchGroup, op: Op) => {
      ops.push(op)
      kinds.push(g)
    }
    if (this.#groups.has('link') || this.#needNames) want('link', { ns, op: 'link.list' })
    if (emit && this.#groups.has('address')) want('address', { ns, op: 'addr.list' })
    if (emit && this.#groups.has('route')) want('route', { ns, op: 'route.list' })
    if (emit && this.#groups.has('neighbour')) {
      want('neighbour', { ns, op: 'neigh.list' })
      want('neighbour', { ns, op: 'fdb.list' })
    }
    let results
    try {
      results = await run(ops)
    } catch (e) {
      this.#fail(e)
      return
    }
    if (this.#closed) return
    this.#names = new Map((results[0] as NativeLink[]).map((l) => [l.index, l.name]))
    if (emit) {
      for (let i = 0; i < ops.length; i++) {
        const g = kinds[i]!
        const items = results[i] as (NativeLink | NativeAddr | NativeRoute | NativeNeigh)[]
        for (const item of items) {
          const ev: Exclude<NativeWatchEvent, { type: 'overrun' | 'error' }> =
            g === 'link'
              ? { type: 'new', group: 'link', link: item as NativeLink }
              : g === 'address'
                ? { type: 'new', group: 'address', addr: item as NativeAddr }
                : g === 'route'
                  ? { type: 'new', group: 'route', route: item as NativeRoute }
                  : { type: 'new', group: 'neighbour', neigh: item as NativeNeigh }
          const out = this.#convert(ev, true)
          if (out) this.#push(out)
        }
      }
      this.#push({ type: 'synced' })
    }
    this.#dumping = false
    this.#flow()
  }

  /** Reading runs while nothing is being dumped and the consumer is less than highWaterMark behind. */
  #flow(): void {
    if (this.#closed || !this.#native) return
    try {
      if (this.#dumping || this.#queue.length >= this.#hwm) this.#native.pause()
      else this.#native.resume()
    } catch (e) {
      this.#fail(toError(e, { object: `the watch of ${this.#ns}` }))
    }
  }

  #push(ev: WatchEvent): void {
    const w = this.#waiters.shift()
    if (w) w.resolve({ value: ev, done: false })
    else this.#queue.push(ev)
  }

  /** Ends the watch with an error: queued events come first, unless `now` (an abort). */
  #fail(err: unknown, now = false): void {
    if (this.#closed) return
    this.#release()
    if (now) this.#queue = []
    const waiters = this.#waiters.splice(0)
    if (waiters.length) {
      // a pending next() takes the error; the others see the end
      waiters[0]!.reject(err)
      for (const w of waiters.slice(1)) w.resolve({ value: undefined, done: true })
    } else {
      this.#error = { err }
    }
  }

  #release(): void {
    this.#closed = true
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#native?.close()
  }

  close(): void {
    if (this.#closed) return
    this.#release()
    this.#queue = []
    for (const w of this.#waiters.splice(0)) w.resolve({ value: undefined, done: true })
  }

  stats(): NativeWatchStats | undefined {
    return this.#native?.stats()
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    if (this.#queue.length) {
      const value = this.#queue.shift()!
      this.#flow()
      return Promise.resolve({ value, done: false })
    }
    if (this.#error) {
      const { err } = this.#error
      this.#error = undefined // thrown once; then the iterator is done
      return Promise.reject(err)
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true })
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject })
      this.#flow()
    })
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}

/**
 * `ip -n NS monitor link address route neigh` as an async iterator (see WatchEvent). Subscribed
 * once `ready` resolves; `break`, return(), close() or the signal close the socket. The socket
 * belongs to the namespace and outlives the Namespace object, but resyncs (and the link names of
 * address, route and neighbour events) are dumped through it: keep it open while watching.
 * @throws {TypeError | RangeError} synchronously: `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for bad options (groups, events, signal, initial, persistent), `ERR_OUT_OF_RANGE` for `receiveBuffer` (bytes, 1 to 2^30) or `highWaterMark` (events, 1 to 2^31 - 1).
 * @throws {NetnsKitError} synchronously: `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
 * @throws {Error} synchronously: an AbortError (`code` `'ABORT_ERR'`) when `opts.signal` is already aborted. Opening the socket fails later, through `ready` and next(): NetlinkError or PrivilegeError `ERR_NETNS_KIT_PRIVILEGES`.
 */
export function watch(ns: Namespace, opts: WatchOptions = {}): NamespaceWatch {
  return new Watch(ns, opts)
}
