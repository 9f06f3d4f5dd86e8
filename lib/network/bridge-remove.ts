// The bridge driver's Network.disconnect and remove: the endpoints' and the network's teardown in
// the order of docs/STATE-STORE.md (each endpoint's container files with it), then the companion caught up (lib/network/bridge.ts).
import { invalidArg } from '../errors'
import { type EndpointRecord } from '../ipam'
import { dnsService } from './dns'
import { Endpoint } from './endpoint'
import { disconnectAll, disconnectDead, disconnectSequence, teardownBridgeEndpoint, teardownBridgeNetwork } from './teardown'
import { syncCompanion } from './companion'
import { etcFilesAfter } from './etc-files'
import type { Network } from './bridge'
import type { BridgeInternals } from './bridge-connect'

/** Network.disconnect (see its docstring). */
export async function disconnectEndpoint(net: Network, st: BridgeInternals, endpoint: Endpoint): Promise<void> {
  if (!(endpoint instanceof Endpoint)) throw invalidArg('endpoint', endpoint, 'must be an Endpoint', 'ERR_INVALID_ARG_TYPE')
  if (endpoint.network.id !== net.id) throw invalidArg('endpoint', String(endpoint), `is not an endpoint of the network '${net.name}'`)
  await disconnectSequence(net.store, endpoint.id, (ep) => teardownEndpoint(net, st, ep))
  st.local.delete(endpoint.id)
  await syncCompanion(net.namespace, net.store)
}

/** An endpoint's kernel objects, then its container's /etc/netns files without it (its record still there: see etcFilesAfter). */
async function teardownEndpoint(net: Network, st: BridgeInternals, ep: EndpointRecord): Promise<void> {
  await dnsService().stop(net.id, ep.id)
  await teardownBridgeEndpoint(net.namespace, net.name, st.cfg, ep)
  await etcFilesAfter(net.store, ep.ns, ep.id).catch(() => {})
}

/** Network.remove (see its docstring). */
export async function removeNetwork(net: Network, st: BridgeInternals, force: boolean): Promise<void> {
  const store = net.store
  if (!force && (await disconnectDead(store, net.id, (ep) => teardownEndpoint(net, st, ep)))) await syncCompanion(net.namespace, store)
  let start
  try {
    start = await store.beginRemoveNetwork(net.id, { force })
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_NETNS_KIT_NO_NETWORK') return
    throw e
  }
  // Together (16 at a time): their veths go in batches, one grace period each (reaper.ts).
  await disconnectAll(
    store,
    start.endpoints.map((e) => e.id),
    (ep) => teardownEndpoint(net, st, ep),
  )
  await teardownBridgeNetwork(net.namespace, start.network, st.cfg)
  await store.finishRemoveNetwork(net.id)
  await dnsService().forget(net.id)
  st.local.clear()
  // The companion caught up: the endpoints' host ports are free when the call returns.
  await syncCompanion(net.namespace, store)
}
