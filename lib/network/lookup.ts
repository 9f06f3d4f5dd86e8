// Network.open and Network.list: a network by name, or every network of a host namespace, whatever
// its driver (the bridge and macvlan drivers' from their records in the store, the overlay driver's
// through the host's agent). Records are enough: a vanished bridge does not hide its network.
import { NetnsKitError, invalidArg } from '../errors'
import { checkNetworkName, type NetworkRecord, type NetworkStore } from '../ipam'
import { listLinks } from '../kernel/rtnl'
import { defaultNamespace, type Namespace } from '../namespace'
import type { Network } from './bridge'
import type { NetworkDriverName } from './driver'
import { MacvlanNetwork } from './macvlan'
import { OverlayNetwork } from './overlay'
import type { OverlayAgent } from './overlay-agent'
import { identity, storeOf } from './state'

/** A network of any driver. */
export type AnyNetwork = Network | MacvlanNetwork | OverlayNetwork

/** Where Network.open and list look: the host namespace, the store, the driver (and the overlay's agent). */
export interface NetworkLookupOptions {
  namespace?: Namespace
  /** Default: the SqliteStore on /run/netns-kit/state.db. */
  store?: NetworkStore
  /** Which driver's networks (default 'bridge'); 'all' for every driver's. */
  driver?: NetworkDriverName | 'all'
  /**
   * The host's OverlayAgent: overlay networks are found through it (their definitions are in its
   * etcd, their records in its store; `store` does not apply to them).
   */
  agent?: OverlayAgent
}

/** Makes the bridge driver's network of a record (its constructor is the class's own); `links`: the host's links by name, read once. */
export type BridgeFromRecord = (
  ns: Namespace,
  store: NetworkStore,
  rec: NetworkRecord,
  links?: Map<string, { index: number; kind: string }>,
) => Promise<Network>

function fromRecord(
  ns: Namespace,
  store: NetworkStore,
  rec: NetworkRecord,
  bridge: BridgeFromRecord,
  links?: Map<string, { index: number; kind: string }>,
): Promise<Network | MacvlanNetwork> {
  return rec.driver === 'macvlan' ? MacvlanNetwork.fromRecord(ns, store, rec) : bridge(ns, store, rec, links)
}

function notReady(rec: NetworkRecord): NetnsKitError {
  return new NetnsKitError(
    'ERR_NETNS_KIT_NETWORK_NOT_READY',
    `the network '${rec.name}' is ${rec.state} by process ${rec.owner.pid} (if that process died, Network.gc() finishes or undoes it)`,
  )
}

const DRIVERS = new Set(['bridge', 'macvlan'])

export async function openNetwork(name: string, opts: NetworkLookupOptions, bridge: BridgeFromRecord): Promise<AnyNetwork> {
  checkNetworkName(name)
  const want = opts?.driver ?? 'bridge'
  if (want === 'overlay') {
    if (!opts.agent) throw invalidArg('opts.agent', opts.agent, 'is needed to open an overlay network (its definition is in etcd)', 'ERR_INVALID_ARG_TYPE')
    return OverlayNetwork.open(name, { agent: opts.agent })
  }
  const ns = await defaultNamespace(opts?.namespace)
  const store = storeOf(opts?.store)
  const rec = await store.networkByName(identity(ns), name)
  if (!rec || !DRIVERS.has(rec.driver)) {
    if (want === 'all' && opts.agent) return OverlayNetwork.open(name, { agent: opts.agent })
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `no network named '${name}' in ${ns.name ?? ns.path}`)
  }
  if (want !== 'all' && rec.driver !== want) {
    throw new NetnsKitError('ERR_NETNS_KIT_WRONG_DRIVER', `the network '${name}' uses the ${rec.driver} driver: open it with { driver: '${rec.driver}' }`)
  }
  if (rec.state !== 'ready') throw notReady(rec)
  return fromRecord(ns, store, rec, bridge)
}

/** A link a macvlan network's record names is gone, or is something else now. */
function isGone(e: unknown): boolean {
  const code = (e as { code?: string }).code
  return code === 'ENODEV' || code === 'ERR_NETNS_KIT_WRONG_KIND'
}

export async function listNetworks(opts: NetworkLookupOptions, bridge: BridgeFromRecord): Promise<AnyNetwork[]> {
  const want = opts?.driver ?? 'bridge'
  const ns = await defaultNamespace(opts?.namespace)
  const store = storeOf(opts?.store)
  const out: AnyNetwork[] = []
  const recs = (await store.networks({ host: identity(ns) })).filter(
    (r) => r.state === 'ready' && DRIVERS.has(r.driver) && (want === 'all' || r.driver === want),
  )
  const links = recs.some((r) => r.driver === 'bridge') ? new Map((await listLinks(ns)).map((l) => [l.name, l])) : undefined
  for (const rec of recs) {
    const n = await fromRecord(ns, store, rec, bridge, links).catch((e: unknown) => {
      if (isGone(e)) return undefined // a macvlan network whose parent is gone
      throw e
    })
    if (n) out.push(n)
  }
  if ((want === 'overlay' || want === 'all') && opts.agent && opts.agent.namespace.equals(ns)) {
    out.push(...(await OverlayNetwork.list({ agent: opts.agent })))
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}
