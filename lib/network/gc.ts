// Repair after a crash (`docker network prune`-like), for the networks of a host namespace: the one
// gc. It works from the store's intents (an index of the records in an intermediate state), never
// judges a live process's intent, and so runs safely while other processes connect.
import { NatRule, pruneGuards, repairLocalnet, restoreNetworkNat } from '../nat'
import { networkNat } from './nat-state'
import { listLinks, unregisterLinks } from '../kernel/rtnl'
import { checkNetworkName, type EndpointRecord, type GatewayMove, type Intent, type NetworkRecord, type NetworkStore } from '../ipam'
import { invalidArg } from '../errors'
import { defaultNamespace, type Namespace } from '../namespace'
import { syncCompanion } from './companion'
import { dnsService } from './dns'
import { etcFilesAfter } from './etc-files'
import { bridgeConfig, identity, nsAlive, storeOf } from './state'
import {
  applyMoves,
  disconnectSequence,
  parseAlias,
  restoreDefaultRoutes,
  teardownBridgeEndpoint,
  teardownBridgeNetwork,
  teardownMacvlanEndpoint,
  type Removed,
} from './teardown'

/** Where and what Network.gc() repairs. */
export interface GcOptions {
  /** The host namespace (default: this process's). */
  namespace?: Namespace
  /** Default: the SqliteStore on /run/netns-kit/state.db. */
  store?: NetworkStore
  /** Only this network (by name): nothing else is read or changed. */
  network?: string
  /**
   * CNI GC: the attachments the runtime still uses. Endpoints connected with a `containerId`
   * whose (containerId, ifname) is not in the list are disconnected too. Without it, none is.
   */
  keep?: { containerId: string; ifname: string }[]
}

/** What Network.gc() finished, undid or removed. */
export interface GcReport {
  /** Networks whose create (undone) or remove (finished) died half-way. */
  networks: string[]
  /** Endpoints removed: whose connect or disconnect died half-way, whose namespace is gone, or not kept (`network/name`). */
  endpoints: string[]
  /** Links removed: veths and bridges of those, and links carrying netns-kit's alias that no record owns. */
  links: string[]
  /** NAT rules removed (`NatRule(publish tcp *:8080 -> 172.18.0.2:80)`). */
  rules: string[]
  /** Addresses given back with the endpoints removed (`network/address`). */
  addresses: string[]
  /**
   * What was missing of live networks and put back from the store (after `nft flush ruleset`, a
   * firewall reload), and containers' default routes a process killed half-way recorded but did
   * not make: `network: what` ('web: masquerade 172.18.0.0/16 oifname != "br-1"',
   * 'web: net.ipv4.ip_forward=1', 'web: default via 172.18.0.1 in /run/netns/c1 (endpoint c1)').
   */
  restored: string[]
  /** Interfaces whose route_localnet netns-kit had turned on and no localhost mapping needs any more: turned off. */
  routeLocalnet: string[]
}

const DRIVERS = new Set(['bridge', 'macvlan'])

function checkGcOptions(opts: GcOptions): { keep?: Set<string> } {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  if (opts.network !== undefined) checkNetworkName(opts.network, 'opts.network')
  if (opts.keep === undefined) return {}
  if (!Array.isArray(opts.keep)) throw invalidArg('opts.keep', opts.keep, 'must be an array of { containerId, ifname }', 'ERR_INVALID_ARG_TYPE')
  return {
    keep: new Set(
      opts.keep.map((k, i) => {
        if (!k || typeof k.containerId !== 'string' || typeof k.ifname !== 'string')
          throw invalidArg(`opts.keep[${i}]`, k, 'must be { containerId: string, ifname: string }', 'ERR_INVALID_ARG_TYPE')
        return `${k.containerId}\0${k.ifname}`
      }),
    ),
  }
}

/**
 * In the host namespace: (1) the intents whose process died (network creating: undone;
 * removing: finished; endpoint connecting: undone; disconnecting: finished), each taken over
 * first so that two gc runs never do one twice; (2) connected endpoints whose namespace is gone
 * (its path missing or naming another inode; a stat, nothing opened) or, with `keep`, not kept:
 * disconnected; (3) links with netns-kit's alias of a network of the store that no endpoint
 * record owns, and rules on a network's bridge that no record owns (a published mapping only if
 * its address is held by nobody); (4) repair from the records: the rules and mappings the kernel
 * lost, forwarding, containers' missing default routes (restoreDefaultRoutes), route_localnet,
 * anti-spoofing elements. Intents of live owners are never touched.
 */
export async function gc(opts: GcOptions = {}): Promise<GcReport> {
  const { keep } = checkGcOptions(opts)
  const host = await defaultNamespace(opts.namespace)
  const store = storeOf(opts.store)
  const report: GcReport = { networks: [], endpoints: [], links: [], rules: [], addresses: [], restored: [], routeLocalnet: [] }
  const nets = (await store.networks({ host: identity(host) })).filter((n) => DRIVERS.has(n.driver) && (opts.network === undefined || n.name === opts.network))
  if (!nets.length) {
    if (opts.network === undefined) {
      report.routeLocalnet = await repairLocalnet(host)
      await NatRule.tidy({ namespace: host })
    }
    return report
  }
  const byId = new Map(nets.map((n) => [n.id, n]))
  const add = (r: Removed) => {
    report.links.push(...r.links)
    report.rules.push(...r.rules)
  }
  let touched = false
  const teardown = async (net: NetworkRecord, ep: EndpointRecord) => {
    touched = true
    await dnsService().stop(net.id, ep.id)
    add(net.driver === 'macvlan' ? await teardownMacvlanEndpoint(net.name, ep) : await teardownBridgeEndpoint(host, net.name, bridgeConfig(net), ep))
    // The container's files without it, while its intent is still recorded (see etcFilesAfter).
    await etcFilesAfter(store, ep.ns, ep.id).catch(() => {})
  }
  const gone = (net: NetworkRecord, ep: EndpointRecord) => {
    report.endpoints.push(`${net.name}/${ep.name}`)
    report.addresses.push(...ep.addresses.map((a) => `${net.name}/${a.address}`))
  }
  const disconnect = async (net: NetworkRecord, ep: EndpointRecord) => {
    await disconnectSequence(store, ep.id, (e) => teardown(net, e))
    gone(net, ep)
  }

  // 1. Intents of dead processes: endpoints first (a network's remove waits for its endpoints).
  const orphans = (await store.orphans()).filter((i) => byId.has(i.networkId)).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'endpoint' ? -1 : 1))
  for (const i of orphans) {
    if (!(await store.takeOver(i.kind, i.id, i.owner))) continue // another gc took it, or it is gone
    const net = byId.get(i.networkId)!
    if (i.kind === 'endpoint') await finishEndpoint(store, i, net, teardown, gone)
    else await finishNetwork(store, i, net, host, disconnect, add, report)
  }

  // 2. Connected endpoints whose namespace is gone, or that the runtime no longer keeps.
  for (const net of nets) {
    if (net.state !== 'ready') continue // the intents of the others were step 1's (or are a live process's)
    for (const ep of await store.endpoints(net.id)) {
      if (ep.state !== 'connected') continue
      const dropped = keep !== undefined && ep.containerId !== undefined && !keep.has(`${ep.containerId}\0${ep.ifname}`)
      if (dropped || !nsAlive(ep.ns)) await disconnect(net, ep)
    }
  }

  // 3. Kernel objects of the store's networks that no record owns; netns-kit's table once empty
  // (a process killed between deleting the last rule and the table).
  const mine = nets.filter((n) => n.driver === 'bridge')
  if (mine.length) await leftovers(store, host, mine, report)

  // 4. Repair: the rules of every live bridge network and of its connected endpoints put back
  // from the records where the kernel lost them (nft flush ruleset), forwarding included; the
  // containers' default routes the records give and the kernel lacks; then route_localnet off
  // where no localhost mapping needs it, and anti-spoofing elements of ports no record names.
  const keepPorts = new Set<string>()
  for (const n of nets) {
    const rec = await store.network(n.id)
    if (!rec || rec.state !== 'ready') continue
    const eps = await store.endpoints(rec.id)
    if (rec.driver === 'bridge') {
      for (const e of eps) if (e.hostIf) keepPorts.add(e.hostIf)
      const lines = await restoreNetworkNat(
        host,
        networkNat(
          rec,
          eps.filter((e) => e.state === 'connected'),
        ),
      )
      report.restored.push(...lines.map((l) => `${rec.name}: ${l}`))
    }
    // The containers' default routes, where a default-route move was recorded but not made.
    report.restored.push(...(await restoreDefaultRoutes(store, eps)).map((l) => `${rec.name}: ${l}`))
  }
  report.routeLocalnet = await repairLocalnet(host)
  if (opts.network === undefined) {
    // Read afresh, after the elements (pruneGuards calls this then): networks and endpoints another
    // process made since (a connect records its endpoint before it adds the port's elements), and
    // every port that still exists.
    const keep = async (): Promise<ReadonlySet<string>> => {
      for (const n of await store.networks({ host: identity(host) })) for (const e of await store.endpoints(n.id)) if (e.hostIf) keepPorts.add(e.hostIf)
      for (const l of await listLinks(host)) keepPorts.add(l.name)
      return keepPorts
    }
    report.rules.push(...(await pruneGuards(host, keep)).map((p) => `anti-spoofing of ${p}`))
  }
  await NatRule.tidy({ namespace: host })
  // The companion's names and reservations follow.
  if (touched) await syncCompanion(host, store)
  return report
}

async function finishEndpoint(
  store: NetworkStore,
  i: Intent,
  net: NetworkRecord,
  teardown: (net: NetworkRecord, ep: EndpointRecord) => Promise<void>,
  gone: (net: NetworkRecord, ep: EndpointRecord) => void,
): Promise<void> {
  const ep = i.endpoint!
  await teardown(net, ep)
  const moves: GatewayMove[] = i.state === 'connecting' ? await store.abortConnect(ep.id) : await store.finishDisconnect(ep.id)
  await applyMoves(moves)
  gone(net, ep)
}

async function finishNetwork(
  store: NetworkStore,
  i: Intent,
  net: NetworkRecord,
  host: Namespace,
  disconnect: (net: NetworkRecord, ep: EndpointRecord) => Promise<void>,
  add: (r: Removed) => void,
  report: GcReport,
): Promise<void> {
  const rec = i.network ?? net
  if (i.state === 'removing') {
    for (const ep of await store.endpoints(net.id)) await disconnect(net, ep)
  }
  if (rec.driver === 'bridge') add(await teardownBridgeNetwork(host, rec, bridgeConfig(rec)))
  if (i.state === 'creating') await store.abortCreateNetwork(net.id)
  else await store.finishRemoveNetwork(net.id)
  await dnsService().forget(net.id)
  report.networks.push(net.name)
}

async function leftovers(store: NetworkStore, host: Namespace, nets: NetworkRecord[], report: GcReport): Promise<void> {
  const stillThere = await Promise.all(nets.map(async (n) => (await store.network(n.id)) ?? undefined))
  const live = stillThere.filter((n): n is NetworkRecord => n !== undefined)
  const byName = new Map(live.map((n) => [n.name, n]))
  for (const l of await listLinks(host)) {
    const a = parseAlias(l.alias)
    if (!a?.endpoint || !byName.has(a.network)) continue
    if (await store.endpoint(a.endpoint)) continue
    await unregisterLinks(host, { index: l.index }, [l.index], l.name)
    report.links.push(l.name)
  }
  const byBridge = new Map(live.map((n) => [bridgeConfig(n).bridge, n]))
  for (const r of await NatRule.list({ namespace: host })) {
    const net = byBridge.get((r.kind === 'masquerade' ? r.notOutInterface : r.interface) ?? '')
    // A network being created records its rules one by one: its intent (or its process) has them.
    if (!net || net.state === 'creating' || (await store.ruleOwner(r.id))) continue
    if (r.kind === 'publish' && (await store.endpointByAddress(net.id, r.containerIp!))) continue
    try {
      await r.delete()
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e
    }
    report.rules.push(String(r))
  }
}
