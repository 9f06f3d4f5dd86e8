// The bridge driver's reads: Network.inspect, endpoint, endpoints and check (lib/network/bridge.ts).
import { NetnsKitError, invalidArg } from '../errors'
import { type EndpointRecord } from '../ipam'
import { handleOf } from '../kernel/handles'
import { listLinks } from '../kernel/rtnl'
import { checkNetworkNat, type Problem } from '../nat'
import { Namespace } from '../namespace'
import { Endpoint } from './endpoint'
import { macForIp } from './mac'
import { networkNat } from './nat-state'
import { nsAlive, openRecorded } from './state'
import type { Network } from './bridge'
import type { BridgeInternals } from './bridge-connect'

/** Network.inspect (see its docstring). */
export async function inspectNetwork(net: Network) {
  const eps = (await net.store.endpoints(net.id))
    .filter((e) => e.state === 'connected')
    .map((r) => {
      const ip = r.addresses.find((a) => a.family === 4)?.address ?? ''
      const ip6 = r.addresses.find((a) => a.family === 6)?.address
      return {
        name: r.name,
        ip,
        ...(ip6 ? { ip6 } : {}),
        mac: r.mac ?? macForIp(ip),
        ports: r.ports.map((p) => ({ protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort })),
      }
    })
  return {
    name: net.name,
    id: net.id,
    bridge: net.bridge.name,
    subnet: net.subnet,
    gateway: net.gateway,
    ipRange: net.ipRange,
    ipv6: net.ipv6,
    mtu: net.mtu,
    masquerade: net.masquerade,
    icc: net.icc,
    internal: net.internal,
    dns: net.dns,
    endpoints: eps,
  }
}

/** Network.endpoint (see its docstring). */
export async function findEndpoint(
  net: Network,
  st: BridgeInternals,
  q: { name: string } | { containerId: string; ifname: string },
): Promise<Endpoint | undefined> {
  if (!q || typeof q !== 'object') throw invalidArg('query', q, 'must be { name } or { containerId, ifname }', 'ERR_INVALID_ARG_TYPE')
  let r: EndpointRecord | undefined
  if ('containerId' in q) {
    if (typeof q.containerId !== 'string' || typeof q.ifname !== 'string')
      throw invalidArg('query', q, 'must be { containerId: string, ifname: string }', 'ERR_INVALID_ARG_TYPE')
    r = await net.store.endpointByContainer(net.id, q.containerId, q.ifname)
  } else {
    if (typeof q.name !== 'string') throw invalidArg('query.name', q.name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    r = await net.store.endpointByName(net.id, q.name)
  }
  if (!r) return undefined
  const mine = st.local.get(r.id)
  if (mine) return mine
  return new Endpoint(net, await openRecorded(r.ns), r)
}

/** Network.endpoints (see its docstring). */
export async function listEndpoints(net: Network, st: BridgeInternals): Promise<Endpoint[]> {
  const out: Endpoint[] = []
  for (const r of await net.store.endpoints(net.id)) {
    if (r.state !== 'connected') continue
    const mine = st.local.get(r.id)
    if (mine) {
      out.push(mine)
      continue
    }
    if (!nsAlive(r.ns)) continue
    const ns = await openRecorded(r.ns)
    if (handleAlive(ns)) out.push(new Endpoint(net, ns, r))
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

/** Network.check (see its docstring). */
export async function checkNetwork(net: Network): Promise<Problem[]> {
  const rec = await net.store.network(net.id)
  if (!rec || rec.state !== 'ready')
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `the network '${net.name}' is not there (removed, or being created or removed)`)
  const eps = (await net.store.endpoints(net.id)).filter((e) => e.state === 'connected')
  const links = new Map((await listLinks(net.namespace)).map((l) => [l.name, l]))
  const problems: Problem[] = []
  const br = links.get(net.bridge.name)
  if (!br || br.kind !== 'bridge') problems.push({ kind: 'missing', object: `link ${net.bridge.name}`, message: `the bridge ${net.bridge.name} is missing` })
  for (const e of eps) {
    const l = e.hostIf ? links.get(e.hostIf) : undefined
    if (e.hostIf && !l)
      problems.push({ kind: 'missing', object: `link ${e.hostIf}`, message: `the host end ${e.hostIf} of the endpoint '${e.name}' is missing` })
    else if (l && br && l.master !== br.index)
      problems.push({ kind: 'different', object: `link ${e.hostIf}`, message: `${e.hostIf} (endpoint '${e.name}') is not a port of ${net.bridge.name}` })
  }
  problems.push(...(await checkNetworkNat(net.namespace, networkNat(rec, eps))))
  return problems
}

function handleAlive(ns: Namespace): boolean {
  try {
    handleOf(ns)
    return true
  } catch {
    return false
  }
}
