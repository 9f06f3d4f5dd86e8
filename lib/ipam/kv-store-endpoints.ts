// KvNetworkStore's endpoint transactions (lib/ipam/kv-store.ts): connect's claims (addresses, host
// ports, the default route) and an endpoint's deletion.
import { formatIp, parseIp, type Family } from './ip'
import { KvTx } from './kv'
import { sameOwner, type Owner } from './owner'
import { StoreError, type ConnectResult, type GatewayMove, type PortRecord } from './network-store'
import {
  autoIfname,
  checkRequested,
  exhausted,
  firstFreeAsync,
  fromHex,
  hexOf,
  claimsOf,
  noFreePort,
  noNetwork,
  normaliseEndpointSpec,
  notOwner,
  poolOf,
  portCandidates,
  portsClash,
  portTaken,
  prefixLengthOf,
  scanSegments,
  scopeOf,
  takesGateway,
  wrongState,
  type NormalPort,
} from './store-logic'
import { K, k, logChange, publicEndpoint, type EndpointDoc, type NetworkDoc, type PortClaim } from './kv-store-keys'

/** beginConnect's transaction: the name, interfaces, addresses and ports claimed, the record `connecting`, the intent. */
export async function connectTx(
  tx: KvTx,
  networkId: string,
  e: ReturnType<typeof normaliseEndpointSpec>,
  nk: string,
  hostPrefix: string,
): Promise<ConnectResult> {
  const net = await tx.get<NetworkDoc>(K.net(networkId))
  if (!net) throw noNetwork(networkId)
  if (net.state !== 'ready') throw new StoreError('ERR_NETNS_KIT_NETWORK_NOT_READY', `the network '${net.name}' is ${net.state}`, { network: net.name })
  // Host interfaces and host ports are per host namespace (this host's, for a network of every host).
  const hostScope = e.host ? scopeOf(e.host, hostPrefix) : net.scope === '*' ? `${hostPrefix}*` : net.scope
  if (await tx.get(K.ep(e.id)))
    throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint with id '${e.id}' exists`, { network: net.name, endpoint: e.name })
  if (await tx.get(K.epName(networkId, e.nameKey)))
    throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint named '${e.name}' is connected to the network '${net.name}'`, {
      network: net.name,
      endpoint: e.name,
    })
  let ifname = e.ifname
  if (ifname === undefined) {
    const used = new Set((await tx.list<string>(`${k('if', nk)}/`)).map((x) => decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1))))
    ifname = autoIfname((n) => used.has(n), e.ifnamesInUse)
  }
  if (await tx.get(K.ifname(nk, ifname)))
    throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the interface ${ifname} is taken in the namespace ${e.ns.path ?? nk} by another endpoint`, {
      network: net.name,
      endpoint: e.name,
    })
  if (e.containerId !== undefined && (await tx.get(K.cni(networkId, e.containerId, ifname)))) {
    throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `the container '${e.containerId}' is attached to the network '${net.name}' as ${ifname}`, {
      network: net.name,
      endpoint: e.name,
    })
  }
  if (e.hostIf !== undefined && (await tx.get(K.hostIf(hostScope, e.hostIf))))
    throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the host interface ${e.hostIf} belongs to another endpoint`, {
      network: net.name,
      endpoint: e.name,
    })
  const addresses = []
  for (const a of e.addresses) addresses.push(await allocate(tx, net, a.family, a.ip, e.id))
  const ports: PortRecord[] = []
  for (const p of e.ports) ports.push(...(await claimPort(tx, hostScope, p, e.id, e.name)))
  const doc: EndpointDoc = {
    id: e.id,
    networkId,
    name: e.name,
    aliases: e.aliases,
    ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
    state: 'connecting',
    owner: e.owner,
    ns: e.ns,
    ifname,
    ...(e.hostIf !== undefined ? { hostIf: e.hostIf } : {}),
    ...(e.mac !== undefined ? { mac: e.mac } : {}),
    ...(e.containerId !== undefined ? { containerId: e.containerId } : {}),
    addresses,
    ports,
    rules: [],
    gatewayPriority: e.gatewayPriority,
    gateway4: false,
    gateway6: false,
    ...(e.dns ? { dns: e.dns } : {}),
    extraHosts: e.extraHosts,
    config: e.config,
    created: e.created,
    nsKey: nk,
    hostScope,
    nameKey: e.nameKey,
    names: e.names,
  }
  const moves: GatewayMove[] = []
  for (const a of addresses) moves.push(...(await takeGateway(tx, doc, a.family)))
  tx.put(K.ep(e.id), doc)
  tx.put(K.epName(networkId, e.nameKey), e.id)
  for (const n of e.names) tx.put(K.name(networkId, n, e.id), '')
  tx.put(K.ifname(nk, ifname), e.id)
  if (e.containerId !== undefined) tx.put(K.cni(networkId, e.containerId, ifname), e.id)
  if (e.hostIf !== undefined) tx.put(K.hostIf(hostScope, e.hostIf), e.id)
  tx.put(K.netEp(networkId, e.id), '')
  tx.put(K.nsEp(nk, e.id), '')
  tx.put(K.intent('endpoint', e.id), '')
  logChange(tx, 'endpoint', e.id, networkId)
  return { endpoint: publicEndpoint(doc), moves }
}

export async function allocate(tx: KvTx, net: NetworkDoc, family: Family, ip: ReturnType<typeof parseIp> | undefined, endpointId: string) {
  const def = net.pools.find((p) => p.family === family)
  if (!def)
    throw new StoreError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `the network '${net.name}' has no IPv${family} subnet`, {
      network: net.name,
      address: ip && formatIp(ip),
    })
  const pool = poolOf(def)
  let value: bigint
  if (ip) {
    checkRequested(pool, ip, net.name)
    value = ip.value
    const holder = await tx.get<{ endpointId?: string; owner: string }>(K.addr(net.id, family, hexOf(value)))
    if (holder) {
      const name = holder.endpointId ? ((await tx.get<EndpointDoc>(K.ep(holder.endpointId)))?.name ?? holder.owner) : holder.owner
      throw new StoreError('ERR_NETNS_KIT_IP_IN_USE', `${formatIp(ip)} is already allocated to '${name}' in the network '${net.name}'`, {
        network: net.name,
        address: formatIp(ip),
      })
    }
  } else {
    const cur = await tx.get<string>(K.cursor(net.id, family))
    const prefix = K.addrs(net.id, family)
    let found: bigint | undefined
    for (const [lo, hi] of scanSegments(pool, cur === undefined ? undefined : fromHex(cur))) {
      const keys = tx.scan(prefix + hexOf(lo), prefix + hexOf(hi) + '\0')
      const taken = {
        async *[Symbol.asyncIterator]() {
          for await (const key of keys) yield fromHex(key.slice(prefix.length))
        },
      }
      found = await firstFreeAsync(pool, lo, hi, taken)
      await keys.return(undefined)
      if (found !== undefined) break
    }
    if (found === undefined) throw exhausted(pool, net.name)
    value = found
    tx.put(K.cursor(net.id, family), hexOf(value))
  }
  const address = formatIp({ family, value })
  tx.put(K.addr(net.id, family, hexOf(value)), { endpointId, owner: endpointId, address, at: new Date().toISOString() })
  return { family, address, subnet: def.subnet, prefixLength: prefixLengthOf(def.subnet), gateway: def.gateway }
}

export async function claimPort(tx: KvTx, scope: string, p: NormalPort, endpointId: string, name: string): Promise<PortRecord[]> {
  const claimsAt = async (port: number) => (await tx.get<{ claims: PortClaim[] }>(K.port(scope, p.protocol, port)))?.claims ?? []
  const mine = claimsOf(p)
  const clashOf = (claims: PortClaim[], port: number) => {
    for (const q of mine) {
      const c = claims.find((x) => portsClash(x, { ...q, hostPort: port }))
      if (c) return { q, c }
    }
    return undefined
  }
  let port = p.hostPort
  let claims: PortClaim[]
  if (port !== undefined) {
    claims = await claimsAt(port)
    const clash = clashOf(claims, port)
    if (clash) throw portTaken({ ...clash.q, hostPort: port }, clash.c.name)
  } else {
    const cur = await tx.get<number>(K.portCursor(scope, p.protocol))
    claims = []
    for (const c of portCandidates(p, cur)) {
      const at = await claimsAt(c)
      if (!clashOf(at, c)) {
        port = c
        claims = at
        break
      }
    }
    if (port === undefined) throw noFreePort(p)
    tx.put(K.portCursor(scope, p.protocol), port)
  }
  const recs: PortRecord[] = mine.map((q) => ({ protocol: q.protocol, family: q.family, hostIp: q.hostIp, hostPort: port, containerPort: q.containerPort }))
  tx.put(K.port(scope, p.protocol, port), { claims: [...claims, ...recs.map((rec) => ({ ...rec, endpointId, name }))] })
  return recs
}

/** Gives `doc` the container's default route of `family` when its priority beats the holder's (doc is written by the caller). */
export async function takeGateway(tx: KvTx, doc: EndpointDoc, family: Family): Promise<GatewayMove[]> {
  const holderId = await tx.get<string>(K.gw(doc.nsKey, family))
  const holder = holderId === undefined || holderId === doc.id ? undefined : await tx.get<EndpointDoc>(K.ep(holderId))
  if (holderId === doc.id || !takesGateway(doc.gatewayPriority, holder ? holder.gatewayPriority : undefined)) return []
  const moves: GatewayMove[] = []
  if (holder) {
    if (family === 4) holder.gateway4 = false
    else holder.gateway6 = false
    tx.put(K.ep(holder.id), holder)
    logChange(tx, 'endpoint', holder.id, holder.networkId)
    moves.push({ endpoint: publicEndpoint(holder), family, provides: false })
  }
  if (family === 4) doc.gateway4 = true
  else doc.gateway6 = true
  tx.put(K.gw(doc.nsKey, family), doc.id)
  return moves
}

export async function heldEndpoint(tx: KvTx, id: string, state: string, owner: Owner): Promise<EndpointDoc | undefined> {
  const d = await tx.get<EndpointDoc>(K.ep(id))
  if (!d) return undefined
  if (d.state !== state) throw wrongState(`the endpoint '${d.name}'`, d.state, state)
  if (!sameOwner(d.owner, owner)) throw notOwner(`the endpoint '${d.name}'`, d.state)
  return d
}

/** Deletes an endpoint and its claims; the next endpoint of the container takes the default routes it held. */
export async function deleteEndpoint(tx: KvTx, d: EndpointDoc): Promise<GatewayMove[]> {
  tx.del(K.ep(d.id))
  tx.del(K.epName(d.networkId, d.nameKey))
  for (const n of d.names) tx.del(K.name(d.networkId, n, d.id))
  tx.del(K.ifname(d.nsKey, d.ifname))
  if (d.containerId !== undefined) tx.del(K.cni(d.networkId, d.containerId, d.ifname))
  if (d.hostIf !== undefined) tx.del(K.hostIf(d.hostScope, d.hostIf))
  for (const a of d.addresses) tx.del(K.addr(d.networkId, a.family, hexOf(parseIp(a.address).value)))
  for (const p of d.ports) {
    const key = K.port(d.hostScope, p.protocol, p.hostPort)
    const left = ((await tx.get<{ claims: PortClaim[] }>(key))?.claims ?? []).filter((c) => !(c.endpointId === d.id && c.hostIp === p.hostIp))
    if (left.length) tx.put(key, { claims: left })
    else tx.del(key)
  }
  for (const r of d.rules) tx.del(K.rule(r))
  tx.del(K.netEp(d.networkId, d.id))
  tx.del(K.nsEp(d.nsKey, d.id))
  tx.del(K.intent('endpoint', d.id))
  logChange(tx, 'endpoint', d.id, d.networkId, true)
  const moves: GatewayMove[] = []
  for (const family of [4, 6] as const) {
    if (!(family === 4 ? d.gateway4 : d.gateway6)) continue
    tx.del(K.gw(d.nsKey, family))
    const others: EndpointDoc[] = []
    for (const x of await tx.list(K.nsEps(d.nsKey))) {
      const id = decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1))
      if (id === d.id) continue
      const o = await tx.get<EndpointDoc>(K.ep(id))
      if (o && o.gatewayPriority !== null && o.state !== 'disconnecting' && o.addresses.some((a) => a.family === family)) others.push(o)
    }
    others.sort((a, b) => b.gatewayPriority! - a.gatewayPriority! || a.created.localeCompare(b.created) || a.id.localeCompare(b.id))
    const next = others[0]
    if (!next) continue
    if (family === 4) next.gateway4 = true
    else next.gateway6 = true
    tx.put(K.ep(next.id), next)
    tx.put(K.gw(d.nsKey, family), next.id)
    logChange(tx, 'endpoint', next.id, next.networkId)
    moves.push({ endpoint: publicEndpoint(next), family, provides: true })
  }
  return moves
}
