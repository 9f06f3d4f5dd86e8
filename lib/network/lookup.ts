// Network.open and Network.list: a network by name, or every network of a host namespace, whatever
// its driver (the bridge and macvlan drivers' from their records, the overlay driver's through the
// host's agent, from etcd).
import { NetnsKitError, invalidArg } from '../errors'
import { FileStore, checkNetworkName, type IpamStore } from '../ipam'
import { defaultNamespace, type Namespace } from '../namespace'
import type { Network } from './bridge'
import type { NetworkDriverName } from './driver'
import { MacvlanNetwork } from './macvlan'
import { OverlayNetwork } from './overlay'
import type { OverlayAgent } from './overlay-agent'
import { driverOf, recordsIn, sameNs, type BridgeNetworkRecord, type NetworkRecord } from './records'

/** A network of any driver. */
export type AnyNetwork = Network | MacvlanNetwork | OverlayNetwork

/** Where Network.open and list look: the host namespace, the store, the driver (and the overlay's agent). */
export interface NetworkLookupOptions {
  namespace?: Namespace
  store?: IpamStore
  /** Which driver's networks (default 'bridge'); 'all' for every driver's. */
  driver?: NetworkDriverName | 'all'
  /**
   * The host's OverlayAgent: overlay networks are found through it (their definitions are in its
   * etcd, their addresses in its store; `store` does not apply to them).
   */
  agent?: OverlayAgent
}

/** Makes the bridge driver's network of a record (its constructor is the class's own). */
export type BridgeFromRecord = (ns: Namespace, store: IpamStore, rec: BridgeNetworkRecord) => Promise<Network>

function fromRecord(ns: Namespace, store: IpamStore, rec: NetworkRecord, bridge: BridgeFromRecord): Promise<Network | MacvlanNetwork> {
  return rec.driver === 'macvlan' ? MacvlanNetwork.fromRecord(ns, store, rec) : bridge(ns, store, rec)
}

/** A link a record names is gone, or is something else now. */
function isGone(e: unknown): boolean {
  const code = (e as { code?: string }).code
  return code === 'ENODEV' || code === 'ERR_NETNS_KIT_NOT_A_BRIDGE' || code === 'ERR_NETNS_KIT_WRONG_KIND'
}

export async function openNetwork(name: string, opts: NetworkLookupOptions, bridge: BridgeFromRecord): Promise<AnyNetwork> {
  checkNetworkName(name)
  const want = opts?.driver ?? 'bridge'
  if (want === 'overlay') {
    if (!opts.agent) throw invalidArg('opts.agent', opts.agent, 'is needed to open an overlay network (its definition is in etcd)', 'ERR_INVALID_ARG_TYPE')
    return OverlayNetwork.open(name, { agent: opts.agent })
  }
  const ns = await defaultNamespace(opts?.namespace)
  const store = opts?.store ?? new FileStore()
  const rec = await recordsIn(store).getNetwork(name)
  if (!rec || !sameNs(rec.host, ns)) {
    if (want === 'all' && opts.agent) return OverlayNetwork.open(name, { agent: opts.agent })
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `no network named '${name}' in ${ns.name ?? ns.path}`)
  }
  if (want !== 'all' && driverOf(rec) !== want) {
    throw new NetnsKitError('ERR_NETNS_KIT_WRONG_DRIVER', `the network '${name}' uses the ${driverOf(rec)} driver: open it with { driver: '${driverOf(rec)}' }`)
  }
  return fromRecord(ns, store, rec, bridge)
}

export async function listNetworks(opts: NetworkLookupOptions, bridge: BridgeFromRecord): Promise<AnyNetwork[]> {
  const want = opts?.driver ?? 'bridge'
  const ns = await defaultNamespace(opts?.namespace)
  const store = opts?.store ?? new FileStore()
  const out: AnyNetwork[] = []
  for (const rec of await recordsIn(store).listNetworks()) {
    if (!sameNs(rec.host, ns) || (want !== 'all' && driverOf(rec) !== want)) continue
    const n = await fromRecord(ns, store, rec, bridge).catch((e: unknown) => {
      if (isGone(e)) return undefined // its bridge or parent is gone (or no longer a bridge)
      throw e
    })
    if (n) out.push(n)
  }
  if ((want === 'overlay' || want === 'all') && opts.agent && opts.agent.namespace.equals(ns)) {
    out.push(...await OverlayNetwork.list({ agent: opts.agent }))
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}
