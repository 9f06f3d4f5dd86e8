// The one place where what a network or an endpoint made is taken away: the kernel steps (each
// tolerating objects already gone, CNI's rule: teardown succeeds when resources are missing),
// and the disconnect sequence around them (intent first, kernel work, result last), which
// disconnect, remove and gc all go through.
import { NetnsKitError, NetlinkError } from '../errors'
import type { EndpointRecord, GatewayMove, NetworkRecord, NetworkStore } from '../ipam'
import type { NativeLink } from '../kernel/binding'
import { listLinks, listRoutes, unregisterLinks } from '../kernel/rtnl'
import { NatRule, publishedOn, removeNetworkNat, splitFound, unguardPort, unpublishFound } from '../nat'
import { guardedPort, networkNat } from './nat-state'
import type { Namespace } from '../namespace'
import { macForIp } from './mac'
import { ALIAS, bridgeAlias, deleteVeth, linkAlias, linkIfThere } from './owned'
import { enterTeardown } from './reaper'
import { nsAlive, openRecorded, singleFlight, type BridgeConfig } from './state'

/** What a teardown removed from the kernel (for gc's report). */
export interface Removed {
  links: string[]
  rules: string[]
}

const isGone = (e: unknown) => e instanceof NetlinkError && (e.code === 'ENOENT' || e.code === 'ENODEV' || e.code === 'ESRCH')

/**
 * Deletes rules, each tolerating that another took it away first: the mappings just found by key
 * in one batch, without a second lookup (unpublishFound), any other rule by its delete().
 */
async function deleteEach(rules: NatRule[]): Promise<string[]> {
  const { found, rest } = splitFound(rules)
  try {
    await unpublishFound(found)
  } catch (e) {
    if (!isGone(e)) throw e
  }
  const gone = found.map(String)
  for (const r of rest) {
    try {
      await r.delete()
    } catch (e) {
      if (!isGone(e)) throw e
    }
    gone.push(String(r))
  }
  return gone
}

/**
 * The NatRules of an endpoint of the bridge `bridge`: those recorded by id, and any published
 * mapping to one of its addresses through that bridge (a connect that died between publishing
 * and recording the ids). Found by key from the host ports its record holds (claimed before
 * anything is published): the same few lookups with 2 mappings in the table or 10,000. Only a
 * record with rule ids but no ports (none written so) falls back to listing. Nothing is read
 * when it has neither rules nor ports.
 */
async function endpointRules(host: Namespace, bridge: string, ep: EndpointRecord): Promise<NatRule[]> {
  if (!ep.rules.length && !ep.ports.length) return []
  const addrs = new Set(ep.addresses.map((a) => a.address))
  const found = ep.ports.length
    ? await publishedOn(
        host,
        ep.ports.map((p) => ({ protocol: p.protocol, family: p.family, hostIp: p.hostIp, hostPort: p.hostPort })),
      )
    : await NatRule.list({ namespace: host })
  return found.filter((r) => ep.rules.includes(r.id) || (r.kind === 'publish' && r.interface === bridge && addrs.has(r.containerIp!)))
}

/**
 * Takes a bridge endpoint out of the kernel: its published mappings (and their UDP conntrack
 * entries), then its veth (only if it carries the endpoint's alias, or, for a connect that died
 * half-way, has none yet and sits on the bridge). The container's end goes with the veth.
 */
export async function teardownBridgeEndpoint(host: Namespace, network: string, cfg: BridgeConfig, ep: EndpointRecord): Promise<Removed> {
  const out: Removed = { links: [], rules: [] }
  // Concurrent teardowns in this host namespace share their veth deletes (lib/network/reaper.ts).
  const leave = ep.hostIf ? enterTeardown(host) : () => {}
  try {
    out.rules = await deleteEach(await endpointRules(host, cfg.bridge, ep))
    // A veth of this endpoint's own name without an alias on the bridge can only be the one a
    // connect of this endpoint made and died before naming (host interfaces are unique in the store).
    if (ep.hostIf && (await deleteVeth(host, ep.hostIf, linkAlias(network, ep.id), cfg.bridge))) out.links.push(ep.hostIf)
  } finally {
    leave()
  }
  // Its anti-spoofing elements once the port is gone (never an unfiltered port). Done on every
  // bridge network: a record made before the setting, or with it off, simply has none there.
  const guarded = guardedPort(ep)
  if (guarded) await unguardPort(host, guarded)
  return out
}

/**
 * A macvlan endpoint's interface in its container `ns`: by its recorded name, else (renamed inside
 * the container: ip link set eth0 name x) by the network's alias, else whatever carries the name
 * (null when nothing does, or the namespace is gone). The caller checks the alias.
 */
export async function findMacvlan(ns: Namespace, network: string, ep: EndpointRecord): Promise<NativeLink | null> {
  const gone = (e: unknown) => {
    if ((e as { code?: string }).code === 'ERR_NETNS_KIT_NO_NAMESPACE') return null
    throw e
  }
  const alias = linkAlias(network, ep.id)
  const l = await linkIfThere(ns, ep.ifname).catch(gone)
  if (l?.alias === alias) return l
  return (await listLinks(ns).catch(gone))?.find((x) => x.alias === alias) ?? l
}

/** The name a macvlan endpoint's interface is created under, before one message names it `ep.ifname` and sets its alias. */
export const pendingMacvlanName = (id: string): string => `nk${id}`

/**
 * Takes a macvlan endpoint out of the kernel: its interface inside the container, only if it
 * carries the endpoint's alias (found by name or alias), or still has the name it was created
 * under (a connect killed before naming it). For a connect killed under an earlier version (which
 * created the macvlan under its final name and labelled it after): a macvlan without alias of the
 * endpoint's name AND MAC, the record still `connecting`. Nothing to do when the container's
 * namespace is gone (the interface went with it).
 */
export async function teardownMacvlanEndpoint(network: string, ep: EndpointRecord): Promise<Removed> {
  const out: Removed = { links: [], rules: [] }
  if (!nsAlive(ep.ns)) return out
  const ns = await openRecorded(ep.ns)
  try {
    let l = await findMacvlan(ns, network, ep)
    const earlier =
      l !== null &&
      ep.state === 'connecting' &&
      l.alias === '' &&
      l.name === ep.ifname &&
      l.mac.toLowerCase() === (ep.mac ?? macForIp(ep.addresses[0]!.address)).toLowerCase()
    if (l?.alias !== linkAlias(network, ep.id) && !earlier) l = await linkIfThere(ns, pendingMacvlanName(ep.id)).catch(() => null)
    if (l && l.kind === 'macvlan') {
      await unregisterLinks(ns, { index: l.index }, [l.index], l.name)
      out.links.push(l.name)
    }
  } finally {
    await ns.close()
  }
  return out
}

/**
 * Takes a bridge network out of the kernel: its rules (those recorded, and masquerade and
 * isolation rules on its bridge that a create dying half-way had not recorded yet), then its
 * bridge if it carries the network's alias (or, with a name netns-kit drew, none yet and no ports).
 */
export async function teardownBridgeNetwork(host: Namespace, rec: NetworkRecord, cfg: BridgeConfig): Promise<Removed> {
  const out: Removed = { links: [], rules: [] }
  const l = await linkIfThere(host, cfg.bridge)
  const unnamed = l !== null && l.alias === '' && l.kind === 'bridge' && cfg.generated === true && !(await listLinks(host)).some((x) => x.master === l.index)
  const ours = l !== null && (l.alias === bridgeAlias(rec.name) || unnamed)
  // Rules on the bridge's name are taken as this network's only when the bridge is its own (or
  // gone, with a name netns-kit drew): a bridge of that name belonging to someone else keeps its rules.
  const byName = ours || (l === null && cfg.generated === true)
  const subnets = new Set(rec.pools.map((p) => p.subnet))
  const rules = (await NatRule.list({ namespace: host })).filter(
    (r) =>
      rec.rules.includes(r.id) ||
      (byName &&
        ((r.kind === 'masquerade' && r.notOutInterface === cfg.bridge && subnets.has(r.source!)) || (r.kind === 'isolate' && r.interface === cfg.bridge))),
  )
  out.rules = await deleteEach(rules)
  // Then whatever else names the bridge or its subnets (hairpin, isolation, masquerade by key;
  // route_localnet if netns-kit turned it on): afterwards no ruleset line mentions them.
  if (byName) await removeNetworkNat(host, networkNat(rec, []))
  if (l && ours) {
    await unregisterLinks(host, { index: l.index }, [l.index], cfg.bridge)
    out.links.push(cfg.bridge)
  }
  return out
}

/** An alias of netns-kit's ('netns-kit:NETWORK:ENDPOINT'), split; undefined for anything else. */
export function parseAlias(alias: string): { network: string; endpoint?: string } | undefined {
  if (!alias.startsWith(ALIAS)) return undefined
  const [network, endpoint, ...rest] = alias.slice(ALIAS.length).split(':')
  if (!network || rest.length) return undefined
  return endpoint === undefined ? { network } : { network, endpoint }
}

/** A route through an interface or to a gateway that is gone (IPv4 says ENETUNREACH, IPv6 EHOSTUNREACH), or a container gone. */
const unroutable = (e: unknown) => {
  const code = (e as { code?: string }).code
  return isGone(e) || code === 'ERR_NETNS_KIT_NO_NAMESPACE' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH'
}

/** Gives the default route back to each endpoint that now provides it (`ip route replace default via GW` in its container). */
export async function applyMoves(moves: GatewayMove[]): Promise<void> {
  for (const m of moves) {
    if (!m.provides) continue
    const a = m.endpoint.addresses.find((x) => x.family === m.family)
    if (!a || !nsAlive(m.endpoint.ns)) continue
    const ns = await openRecorded(m.endpoint.ns)
    try {
      await ns.routes.replace({ to: 'default', via: a.gateway, family: m.family })
    } catch (e) {
      if (!unroutable(e)) throw e
    } finally {
      await ns.close()
    }
  }
}

/**
 * The default routes the records give containers and the kernel lacks, added (gc): a process
 * killed between a default-route move's record and its route (finishDisconnect or abortConnect
 * done, applyMoves not) left the container without one. Only for a connected endpoint that
 * provides the route, still so when read again after the container's routes (gc runs while
 * others connect and disconnect), and only when the container has no default route of that
 * family in any table (one set by anyone else, or moved to another table by a VPN, stays).
 * One route dump per endpoint and family. Returns what it added.
 */
export async function restoreDefaultRoutes(store: NetworkStore, eps: readonly EndpointRecord[]): Promise<string[]> {
  const provides = (e: EndpointRecord, family: 4 | 6) => e.state === 'connected' && (family === 4 ? e.gateway4 : e.gateway6)
  const out: string[] = []
  for (const e of eps) {
    const gateways = e.addresses.filter((a) => a.gateway && provides(e, a.family))
    if (!gateways.length || !nsAlive(e.ns)) continue
    const ns = await openRecorded(e.ns)
    try {
      for (const a of gateways) {
        try {
          const routes = await listRoutes(ns, a.family)
          if (routes.some((r) => r.dstLength === 0)) continue
          const now = await store.endpoint(e.id)
          if (!now || !provides(now, a.family)) continue
          await ns.routes.replace({ to: 'default', via: a.gateway, family: a.family })
          out.push(`default via ${a.gateway} in ${e.ns.path ?? 'the container'} (endpoint ${e.name})`)
        } catch (err) {
          if (!unroutable(err)) throw err
        }
      }
    } finally {
      await ns.close()
    }
  }
  return out
}

/**
 * Network.remove without `force` (every driver): the endpoints whose container namespace is gone
 * are not in use, so they are disconnected first (as gc would), and a deleted container does not
 * block `docker network rm`. Returns how many.
 */
export async function disconnectDead(store: NetworkStore, networkId: string, teardown: (ep: EndpointRecord) => Promise<unknown>): Promise<number> {
  const dead = (await store.endpoints(networkId).catch(() => [] as EndpointRecord[])).filter((r) => r.state === 'connected' && !nsAlive(r.ns))
  for (const r of dead) await disconnectSequence(store, r.id, teardown)
  return dead.length
}

/** Disconnects in flight in this process, by endpoint id: concurrent calls share one. */
const inflight = new Map<string, Promise<void>>()

/** How long a disconnect waits for another live process's intent on the same endpoint. */
const BUSY_WAIT_MS = 30_000

/**
 * The disconnect sequence, idempotent, safe to run concurrently (in this process and in
 * others): `beginDisconnect` (absent: done; busy: another live process holds an intent on it,
 * wait until it is gone or its owner died), the kernel teardown, then `finishDisconnect`, whose
 * default-route moves are applied. Resolves once the endpoint is gone, whoever removed it.
 */
export function disconnectSequence(store: NetworkStore, id: string, teardown: (ep: EndpointRecord) => Promise<unknown>): Promise<void> {
  return singleFlight(inflight, id, async () => {
    const deadline = Date.now() + BUSY_WAIT_MS
    for (;;) {
      const s = await store.beginDisconnect(id)
      if (s.status === 'absent') return
      if (s.status === 'started') {
        await teardown(s.endpoint)
        await applyMoves(await store.finishDisconnect(id))
        return
      }
      if (Date.now() > deadline) {
        throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_BUSY', `the endpoint '${s.endpoint.name}' is ${s.endpoint.state} by process ${s.endpoint.owner.pid}`)
      }
      await waitForChange(store, 200)
    }
  })
}

/** How many disconnects of one call (remove, gc) run at once: their veth deletes share a grace period. */
const TEARDOWN_CONCURRENCY = 16

/**
 * The disconnect sequence of several endpoints, TEARDOWN_CONCURRENCY at a time, so that their veth
 * deletes go in batches (lib/network/reaper.ts) instead of one RCU grace period each. Every one is
 * tried; the first failure is thrown once all are done.
 */
export async function disconnectAll(store: NetworkStore, ids: string[], teardown: (ep: EndpointRecord) => Promise<unknown>): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  await Promise.all(
    Array.from({ length: Math.min(TEARDOWN_CONCURRENCY, ids.length) }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!
        await disconnectSequence(store, id, teardown).catch((e: unknown) => {
          errors.push(e)
        })
      }
    }),
  )
  if (errors.length) throw errors[0]
}

/** Resolves at the store's next change, or after `ms`. */
export function waitForChange(store: NetworkStore, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const ref: { off?: () => void } = {}
    const done = () => {
      clearTimeout(timer)
      ref.off?.()
      resolve()
    }
    const timer = setTimeout(done, ms)
    ref.off = store.onChange(done)
  })
}
