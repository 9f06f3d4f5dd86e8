// The companion's records (lib/companion/server.ts): what it keeps of the networks and endpoints of its
// host namespace as the store's changes come, with their names, port reservations and resolvers.
import { NetnsKitError } from '../errors'
import type { Change, EndpointRecord, NetworkRecord } from '../ipam/network-store'
import { type PrepareResult } from './protocol'
import { describePort } from './reservations'
import { nsKeyOf, type NetInfo, type ServerInternals, netInfo } from './server-state'
import { closeResolver, ensureResolver, setUpstreams } from './server-resolvers'
import { watchPath } from './server-watch'

export async function applyChange(st: ServerInternals, c: Change): Promise<void> {
  if (c.kind === 'network') {
    if (!c.network) {
      st.networks.delete(c.id)
      for (const [id, e] of [...st.endpoints]) if (e.networkId === c.id) await removeEndpoint(st, id)
      return
    }
    const before = st.networks.get(c.id)
    const info = ours(st, c.network) ? netInfo(c.network) : null
    st.networks.set(c.id, info)
    if (JSON.stringify(before) !== JSON.stringify(info)) {
      for (const e of [...st.endpoints.values()]) if (e.networkId === c.id) await upsertEndpoint(st, e)
    }
    return
  }
  if (c.endpoint) await upsertEndpoint(st, c.endpoint)
  else await removeEndpoint(st, c.id)
}

export function ours(st: ServerInternals, n: NetworkRecord): boolean {
  return !!n.host && n.host.dev === st.server.hostId.dev && n.host.ino === st.server.hostId.ino
}

export async function networkInfo(st: ServerInternals, id: string): Promise<NetInfo | null> {
  let info = st.networks.get(id)
  if (info === undefined) {
    const rec = await st.server.store.network(id)
    info = rec && ours(st, rec) ? netInfo(rec) : null
    st.networks.set(id, info)
  }
  return info
}

export async function upsertEndpoint(st: ServerInternals, rec: EndpointRecord): Promise<void> {
  const net = await networkInfo(st, rec.networkId)
  if (!net) {
    await removeEndpoint(st, rec.id)
    return
  }
  const before = st.endpoints.get(rec.id)
  st.endpoints.set(rec.id, rec)
  if (net.dns || rec.ports.length) st.needy.add(rec.id)
  else st.needy.delete(rec.id)
  // Names: a connected endpoint of a network with DNS.
  if (net.dns) st.index.set(rec, net)
  else st.index.delete(rec.id)
  // Ports: held from beginConnect (the DNAT rules come after prepare) to finishDisconnect.
  try {
    await st.reservations.hold(rec.id, rec.ports)
    st.portErrors.delete(rec.id)
  } catch (e) {
    if (!st.portErrors.has(rec.id)) st.log(`endpoint ${rec.id} (${rec.name}): cannot hold its ports: ${(e as Error).message}`)
    st.portErrors.set(rec.id, e as Error)
  }
  // The container's resolver.
  const key = nsKeyOf(rec.ns)
  if (before && nsKeyOf(before.ns) !== key) detach(st, nsKeyOf(before.ns), rec.id)
  if (net.dns) {
    let c = st.containers.get(key)
    if (!c) {
      c = { key, ns: rec.ns, endpoints: new Set(), gone: false }
      st.containers.set(key, c)
      watchPath(st, rec.ns.path)
    }
    c.endpoints.add(rec.id)
    // Not awaited here: the resolvers of the containers a drain brings start side by side (a
    // trip to each container's namespace), not one after another in the queue of changes.
    const starting = ensureResolver(st, c)
    st.starts.add(starting)
    const done = () => st.starts.delete(starting)
    starting.then(done, done)
  } else {
    detach(st, key, rec.id)
  }
}

export async function removeEndpoint(st: ServerInternals, id: string): Promise<void> {
  const rec = st.endpoints.get(id)
  st.endpoints.delete(id)
  st.needy.delete(id)
  st.index.delete(id)
  st.portErrors.delete(id)
  await st.reservations.release(id)
  if (rec) detach(st, nsKeyOf(rec.ns), id)
}

export function detach(st: ServerInternals, key: string, endpointId: string): void {
  const c = st.containers.get(key)
  if (!c) return
  c.endpoints.delete(endpointId)
  if (c.endpoints.size) {
    setUpstreams(st, c)
    return
  }
  st.containers.delete(key)
  void closeResolver(c)
}

/** CompanionServer.prepare's work, in the queue of changes (see its docstring). */
export async function prepareEndpoint(st: ServerInternals, endpointId: string): Promise<PrepareResult> {
  let rec = st.endpoints.get(endpointId)
  if (!rec) {
    const r = await st.server.store.endpoint(endpointId)
    if (!r) throw new NetnsKitError('ERR_NETNS_KIT_NO_ENDPOINT', `no endpoint '${endpointId}' in ${st.server.store.path}`)
    if (!(await networkInfo(st, r.networkId)))
      throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', `the endpoint '${endpointId}' is not on a network of this companion's host namespace`)
    await upsertEndpoint(st, r)
    rec = r
  }
  if (st.portErrors.has(endpointId)) {
    // Held by a host process then; maybe not any more.
    await upsertEndpoint(st, rec)
    const err = st.portErrors.get(endpointId)
    if (err) throw err
  }
  const c = st.containers.get(nsKeyOf(rec.ns))
  if (c && !c.resolver && !c.gone) await ensureResolver(st, c)
  if (c?.error && !c.resolver) throw c.error
  return { ports: st.reservations.held(endpointId).map(describePort), resolver: !!c?.resolver }
}
