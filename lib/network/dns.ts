// The embedded name resolution of bridge networks (Docker's 127.0.0.11), behind one small
// interface (DnsService) so that who serves it is decided in one place: today this process
// (InProcessDns: a resolver per endpoint, sockets opened in the containers), later the companion
// process (issue 14), which reads the same names through store.resolve() and the change feed.
//
// InProcessDns keeps one record set per network, filled once from the store when this process
// first serves the network, then changed incrementally: an endpoint connected or disconnected here
// changes it directly, one connected by another process arrives through the store's change feed
// (changesSince: the records that changed, never a scan of every endpoint).
import * as fs from 'node:fs'
import { planResolvConf } from '../container-files'
import { DnsRecords, Resolver, type NameSource } from '../dns'
import type { EndpointRecord, NetworkStore } from '../ipam'
import type { Namespace } from '../namespace'
import { nsAlive, openRecorded } from './state'

/** What the resolvers of a network need to know about it. */
export interface DnsNetwork {
  readonly id: string
  readonly name: string
  /** The host namespace: upstream queries go out from there. */
  readonly namespace: Namespace
  readonly upstream: readonly string[] | undefined
  readonly internal: boolean
  readonly store: NetworkStore
}

/** Who answers the names of a network's containers. */
export interface DnsService {
  /** Serves the connected (or connecting) endpoint `ep` inside its namespace `ns`; its names resolve for the network at once. */
  start(net: DnsNetwork, ns: Namespace, ep: EndpointRecord): Promise<void>
  /** Stops serving an endpoint and forgets its names. Idempotent. */
  stop(networkId: string, endpointId: string): Promise<void>
  /** Whether this service serves the endpoint already. */
  serves(networkId: string, endpointId: string): boolean
  /** The network is gone: stops its resolvers, forgets its names. */
  forget(networkId: string): Promise<void>
}

/** How long the change feed waits after a change before reading (changes meanwhile come with it). */
const FEED_DELAY_MS = 20

/** The host's /etc/resolv.conf (the default upstreams of the embedded resolver). */
export function hostResolvConf(): string {
  try {
    return fs.readFileSync('/etc/resolv.conf', 'utf8')
  } catch {
    return ''
  }
}

/** Every name an endpoint answers to (name, aliases, hostname), lower case, once each. */
export function namesOf(r: Pick<EndpointRecord, 'name' | 'aliases' | 'hostname'>): string[] {
  return [...new Set([r.name, ...r.aliases, ...(r.hostname ? [r.hostname] : [])].map((n) => n.toLowerCase()))]
}

function setEntry(records: DnsRecords, r: EndpointRecord): void {
  try {
    records.set(r.id, { names: namesOf(r), addresses: r.addresses.map((a) => a.address) })
  } catch {
    /* a name DNS cannot carry (an imported record): not served */
  }
}

interface NetState {
  records: DnsRecords
  /** The endpoints served, by id: the key of their container (its one resolver). */
  resolvers: Map<string, string>
  /** The first fill from the store (once per network in this process). */
  loaded: Promise<void>
}

/** One network a container is on, as its resolver sees it. */
interface Membership {
  networkId: string
  endpointId: string
  /** The network's name, lower case: `NAME.NETWORK` asks that network for NAME (Docker's container.network). */
  name: string
  records: DnsRecords
  /** Where this network forwards other names (undefined: nowhere, an internal network). */
  upstream: { servers: string[]; namespace: Namespace } | undefined
}

/**
 * The names a container resolves: those of every network it is on (the first network it joined
 * that knows a name answers for it), and NAME.NETWORK for NAME on the network NETWORK.
 */
export class ContainerNames implements NameSource {
  readonly members: Membership[] = []

  lookup(name: string, family: 4 | 6): string[] | undefined {
    const n = name.toLowerCase().replace(/\.$/, '')
    // The first network (in joining order) that knows the name answers, as Docker's resolver does.
    for (const m of this.members) {
      const r = m.records.lookup(n, family)
      if (r !== undefined) return r
    }
    for (const m of this.members) {
      if (n.length > m.name.length + 1 && n.endsWith(`.${m.name}`)) {
        const r = m.records.lookup(n.slice(0, -m.name.length - 1), family)
        if (r !== undefined) return r
      }
    }
    return undefined
  }

  /** NAME.NETWORK for a network of the container: ours, found or not (NXDOMAIN, not forwarded). */
  owns(name: string): boolean {
    const n = name.toLowerCase().replace(/\.$/, '')
    return this.members.some((m) => n.length > m.name.length + 1 && n.endsWith(`.${m.name}`))
  }

  reverse(address: string): string[] {
    for (const m of this.members) {
      const r = m.records.reverse(address)
      if (r.length) return r
    }
    return []
  }

  /** The first network (in joining order) that forwards: internal ones do not. */
  upstream(): Membership['upstream'] {
    return this.members.find((m) => m.upstream !== undefined)?.upstream
  }
}

/** A container's one resolver on 127.0.0.11, answering for every network it is on. */
interface Container {
  names: ContainerNames
  /** The resolver, once started (a start in progress: the promise of it). */
  resolver: Promise<Resolver>
}

/** One store's change feed, read by the networks of that store this process serves. */
interface Feed {
  seq: number
  ready: Promise<void>
  networks: Map<string, NetState>
  unsubscribe: (() => void) | undefined
  /** The read in progress (it reads once more when `again` is set meanwhile). */
  running: Promise<void> | undefined
  again: boolean
}

/**
 * The resolvers run inside this process, with their sockets opened in the containers' namespaces:
 * one per container, answering for each network it is on (Docker's one 127.0.0.11 per container).
 */
export class InProcessDns implements DnsService {
  readonly #feeds = new Map<NetworkStore, Feed>()
  readonly #byNetwork = new Map<string, { feed: Feed; state: NetState; store: NetworkStore }>()
  /** One resolver per container namespace (by inode), whatever the number of its networks. */
  readonly #containers = new Map<string, Container>()

  #feed(store: NetworkStore): Feed {
    const f = this.#feeds.get(store)
    if (f) return f
    const feed: Feed = { seq: 0, ready: Promise.resolve(), networks: new Map(), unsubscribe: undefined, running: undefined, again: false }
    feed.ready = store.sequence().then((s) => {
      feed.seq = s
    })
    feed.ready.catch(() => {})
    // Changes are read at most every FEED_DELAY_MS: a burst of commits (this process's own
    // connects notify too) costs one read.
    let timer: NodeJS.Timeout | undefined
    feed.unsubscribe = store.onChange(() => {
      timer ??= setTimeout(() => {
        timer = undefined
        void this.#pump(store, feed)
      }, FEED_DELAY_MS)
      timer.unref()
    })
    this.#feeds.set(store, feed)
    return feed
  }

  /**
   * Applies the changes since the last read to the networks served (coalesced: one read at a
   * time, and one more if something changed meanwhile); resolves once caught up. An endpoint
   * connected elsewhere is added; one gone (or being disconnected) is forgotten, and its resolver,
   * if this process runs it, closed: its container's 127.0.0.11:53 is free again.
   */
  #pump(store: NetworkStore, feed: Feed): Promise<void> {
    if (feed.running) {
      feed.again = true
      return feed.running
    }
    feed.running = (async () => {
      try {
        do {
          feed.again = false
          await feed.ready
          const b = await store.changesSince(feed.seq)
          feed.seq = b.seq
          if (b.reset) {
            for (const [id, st] of feed.networks) await this.#fill(store, id, st)
            continue
          }
          for (const c of b.changes) {
            const st = feed.networks.get(c.networkId)
            if (!st) continue
            if (c.kind === 'network') {
              if (!c.network) await this.forget(c.networkId)
              continue
            }
            const e = c.endpoint
            if (e && e.state === 'connected') setEntry(st.records, e)
            else if (!e || e.state === 'disconnecting') await this.stop(c.networkId, c.id)
          }
        } while (feed.again)
      } catch {
        // The store closed or failed: the next change tries again.
      } finally {
        feed.running = undefined
      }
    })()
    return feed.running
  }

  /** Every connected endpoint of the network, once (the feed keeps the set current afterwards). */
  async #fill(store: NetworkStore, networkId: string, st: NetState): Promise<void> {
    for (const e of await store.endpoints(networkId)) if (e.state === 'connected') setEntry(st.records, e)
  }

  #state(net: DnsNetwork): NetState {
    const cur = this.#byNetwork.get(net.id)
    if (cur) return cur.state
    const feed = this.#feed(net.store)
    const st: NetState = { records: new DnsRecords(), resolvers: new Map(), loaded: Promise.resolve() }
    // The feed's position is read before the endpoints: what changes in between is read again.
    st.loaded = feed.ready.then(() => this.#fill(net.store, net.id, st))
    st.loaded.catch(() => {})
    feed.networks.set(net.id, st)
    this.#byNetwork.set(net.id, { feed, state: st, store: net.store })
    return st
  }

  async start(net: DnsNetwork, ns: Namespace, ep: EndpointRecord): Promise<void> {
    const st = this.#state(net)
    await st.loaded
    setEntry(st.records, ep)
    // The endpoint's own servers (docker --dns), else the network's (even none, used as given); only
    // without either the host's resolv.conf is read.
    const servers = ep.dns?.servers?.length
      ? [...ep.dns.servers]
      : net.upstream
        ? [...net.upstream]
        : planResolvConf({ host: hostResolvConf(), resolver: true, fallback: [] }).upstreams
    const member: Membership = {
      networkId: net.id,
      endpointId: ep.id,
      name: net.name.toLowerCase(),
      records: st.records,
      upstream: net.internal || !servers.length ? undefined : { servers, namespace: net.namespace },
    }
    const key = String(ns.id)
    await this.#leave(net.id, ep.id) // served already (restoreDns): joined again below
    const cur = this.#containers.get(key)
    if (cur) {
      // The container is on another network already: its resolver answers for this one too.
      cur.names.members.push(member)
      st.resolvers.set(ep.id, key)
      try {
        const r = await cur.resolver
        r.setUpstreams(cur.names.upstream()?.servers ?? [])
      } catch (e) {
        await this.#leave(net.id, ep.id)
        st.records.delete(ep.id)
        throw e
      }
      return
    }
    const names = new ContainerNames()
    names.members.push(member)
    // Upstream queries leave from the host namespace of the network that started the resolver
    // (the networks of one container share it); none: SERVFAIL until a forwarding network joins.
    const start = () => Resolver.start({ namespace: ns, records: names, upstream: { servers: names.upstream()?.servers ?? [], namespace: net.namespace } })
    const resolver = start().catch(async (e: unknown) => {
      if ((e as { code?: string }).code !== 'EADDRINUSE') throw e
      // 127.0.0.11:53 still held by a resolver this process ran for an endpoint another process
      // removed since: catching up on the feed closes it.
      await this.#pump(net.store, this.#byNetwork.get(net.id)!.feed)
      return start()
    })
    const c: Container = { names, resolver }
    this.#containers.set(key, c)
    st.resolvers.set(ep.id, key)
    try {
      ;(await resolver).unref()
    } catch (e) {
      if (this.#containers.get(key) === c) this.#containers.delete(key)
      st.resolvers.delete(ep.id)
      st.records.delete(ep.id)
      throw e
    }
  }

  /** Takes an endpoint's network off its container's resolver; the last one closes it. */
  async #leave(networkId: string, endpointId: string): Promise<void> {
    const st = this.#byNetwork.get(networkId)?.state
    const key = st?.resolvers.get(endpointId)
    if (!st || key === undefined) return
    st.resolvers.delete(endpointId)
    const c = this.#containers.get(key)
    if (!c) return
    const i = c.names.members.findIndex((m) => m.networkId === networkId && m.endpointId === endpointId)
    if (i >= 0) c.names.members.splice(i, 1)
    if (c.names.members.length) {
      const r = await c.resolver.catch(() => undefined)
      r?.setUpstreams(c.names.upstream()?.servers ?? [])
      return
    }
    this.#containers.delete(key)
    await (await c.resolver.catch(() => undefined))?.close()
  }

  async stop(networkId: string, endpointId: string): Promise<void> {
    const n = this.#byNetwork.get(networkId)
    if (!n) return
    n.state.records.delete(endpointId)
    await this.#leave(networkId, endpointId)
  }

  serves(networkId: string, endpointId: string): boolean {
    return this.#byNetwork.get(networkId)?.state.resolvers.has(endpointId) ?? false
  }

  async forget(networkId: string): Promise<void> {
    const n = this.#byNetwork.get(networkId)
    if (!n) return
    for (const id of [...n.state.resolvers.keys()]) await this.#leave(networkId, id)
    this.#byNetwork.delete(networkId)
    n.feed.networks.delete(networkId)
    if (!n.feed.networks.size) {
      n.feed.unsubscribe?.()
      this.#feeds.delete(n.store)
    }
  }
}

let service: DnsService = new InProcessDns()

/** Who serves the embedded DNS of this process's networks. */
export function dnsService(): DnsService {
  return service
}

/** @internal Puts another DnsService in place (the companion process, issue 14); returns the previous one. */
export function useDnsService(s: DnsService): DnsService {
  const prev = service
  service = s
  return prev
}

/**
 * Starts the resolvers of the network's connected endpoints that this process does not serve
 * yet (connected by another process, or before a restart) whose namespaces are still there;
 * returns how many. Reads every endpoint of the network: not a hot path.
 */
export async function restoreResolvers(net: DnsNetwork): Promise<number> {
  const dns = dnsService()
  let n = 0
  for (const r of await net.store.endpoints(net.id)) {
    if (r.state !== 'connected' || dns.serves(net.id, r.id) || !nsAlive(r.ns)) continue
    const ns = await openRecorded(r.ns)
    try {
      await dns.start(net, ns, r)
      n++
    } catch {
      /* gone meanwhile */
    }
  }
  return n
}
