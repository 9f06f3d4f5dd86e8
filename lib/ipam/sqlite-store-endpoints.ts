// SqliteStore's endpoint transactions (lib/ipam/sqlite-store.ts): connect's row and claims, disconnect,
// deletion, and the held-row check of an intent step, as functions of the statement cache.
import { type Family } from './ip'
import { ownerState, sameOwner, type Owner } from './owner'
import { StoreError, type ChangeBatch, type Change, type ConnectResult, type DisconnectStart, type GatewayMove, type Intent } from './network-store'
import { autoIfname, noNetwork, normaliseEndpointSpec, notOwner, scopeOf, wrongState } from './store-logic'
import { allocate, claimPort, handOver, takeGateway } from './sqlite-claims'
import { constraintOf, endpointById, endpointOf, networkById, networkOf, ownerOf, type Row, type St } from './sqlite-rows'

/** beginConnect's transaction: the row `connecting`, its names, addresses, ports and default routes claimed. */
export function connectTx(st: St, networkId: string, e: ReturnType<typeof normaliseEndpointSpec>, key: string): ConnectResult {
  const net = st('SELECT id, name, scope, state FROM networks WHERE id = ?').get(networkId) as Row | undefined
  if (!net) throw noNetwork(networkId)
  const netName = String(net.name)
  if (net.state !== 'ready') throw new StoreError('ERR_NETNS_KIT_NETWORK_NOT_READY', `the network '${netName}' is ${String(net.state)}`, { network: netName })
  const hostScope = e.host ? scopeOf(e.host) : String(net.scope)
  const ifname = e.ifname ?? autoIfname((n) => st('SELECT 1 FROM endpoints WHERE ns_key = ? AND ifname = ?').get(key, n) !== undefined, e.ifnamesInUse)
  try {
    st(
      `INSERT INTO endpoints (id, network_id, name, name_key, aliases, hostname, state, owner_pid, owner_start, owner_boot, ns_key, ns_dev, ns_ino, ns_path,
        ifname, host_scope, host_if, mac, container_id, gw_priority, dns, extra_hosts, config, created)
      VALUES (?, ?, ?, ?, ?, ?, 'connecting', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      e.id,
      networkId,
      e.name,
      e.nameKey,
      JSON.stringify(e.aliases),
      e.hostname ?? null,
      e.owner.pid,
      e.owner.start,
      e.owner.boot,
      key,
      e.ns.dev,
      e.ns.ino,
      e.ns.path ?? null,
      ifname,
      hostScope,
      e.hostIf ?? null,
      e.mac ?? null,
      e.containerId ?? null,
      e.gatewayPriority,
      e.dns ? JSON.stringify(e.dns) : null,
      JSON.stringify(e.extraHosts),
      JSON.stringify(e.config),
      e.created,
    )
  } catch (err) {
    const c = constraintOf(err) ?? ''
    if (c.includes('endpoints.network_id, endpoints.name_key'))
      throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint named '${e.name}' is connected to the network '${netName}'`, {
        network: netName,
        endpoint: e.name,
      })
    if (c.includes('endpoints.ns_key, endpoints.ifname'))
      throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the interface ${ifname} is taken in the namespace ${e.ns.path ?? key} by another endpoint`, {
        network: netName,
        endpoint: e.name,
      })
    if (c.includes('endpoints.container_id'))
      throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `the container '${e.containerId}' is attached to the network '${netName}' as ${ifname}`, {
        network: netName,
        endpoint: e.name,
      })
    if (c.includes('endpoints.host_if'))
      throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the host interface ${e.hostIf} belongs to another endpoint`, {
        network: netName,
        endpoint: e.name,
      })
    if (c.includes('endpoints.id'))
      throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint with id '${e.id}' exists`, { network: netName, endpoint: e.name })
    throw err
  }
  for (const n of e.names) st('INSERT INTO names (network_id, name_key, endpoint_id) VALUES (?, ?, ?)').run(networkId, n, e.id)
  for (const a of e.addresses) allocate(st, networkId, netName, a.family, a.ip, e.id, e.id)
  for (const p of e.ports) claimPort(st, hostScope, p, e.id)
  const moves: GatewayMove[] = []
  for (const a of e.addresses) moves.push(...takeGateway(st, e.id, key, a.family, e.gatewayPriority))
  return { endpoint: endpointById(st, e.id)!, moves }
}

export function heldEndpoint(st: St, id: string, state: string, owner: Owner): Row | undefined {
  const r = st('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined
  if (!r) return undefined
  if (r.state !== state) throw wrongState(`the endpoint '${String(r.name)}'`, String(r.state), state)
  if (!sameOwner(ownerOf(r), owner)) throw notOwner(`the endpoint '${String(r.name)}'`, String(r.state))
  return r
}

export function deleteEndpoint(st: St, r: Row): GatewayMove[] {
  const fams: Family[] = [...(r.gw4 === 1 ? [4 as const] : []), ...(r.gw6 === 1 ? [6 as const] : [])]
  st('DELETE FROM endpoints WHERE id = ?').run(String(r.id))
  return handOver(st, String(r.ns_key), fams)
}

/** beginDisconnect's transaction. */
export function disconnectTx(st: St, id: string, owner: Owner): DisconnectStart {
  const r = st('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined
  if (!r) return { status: 'absent' }
  const held = ownerOf(r)
  if (r.state !== 'connected' && !sameOwner(held, owner) && ownerState(held) !== 'dead') return { status: 'busy', endpoint: endpointOf(st, r) }
  st(`UPDATE endpoints SET state = 'disconnecting', owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ?`).run(owner.pid, owner.start, owner.boot, id)
  return { status: 'started', endpoint: endpointById(st, id)! }
}

/** intents()' read: the rows not `ready` or `connected`. */
export function intentsTx(st: St): Intent[] {
  const out: Intent[] = []
  for (const r of st(`SELECT * FROM networks WHERE state <> 'ready'`).all() as Row[]) {
    const owner = ownerOf(r)
    out.push({
      kind: 'network',
      id: String(r.id),
      networkId: String(r.id),
      state: r.state as Intent['state'],
      owner,
      ownerState: ownerState(owner),
      network: networkOf(st, r),
    })
  }
  for (const r of st(`SELECT * FROM endpoints WHERE state <> 'connected'`).all() as Row[]) {
    const owner = ownerOf(r)
    out.push({
      kind: 'endpoint',
      id: String(r.id),
      networkId: String(r.network_id),
      state: r.state as Intent['state'],
      owner,
      ownerState: ownerState(owner),
      endpoint: endpointOf(st, r),
    })
  }
  return out
}

export function seqOf(st: St): number {
  return Number(st(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).pluck().get() ?? 0)
}

/** changesSince()' read. */
export function changesTx(st: St, seq: number): ChangeBatch {
  const now = seqOf(st)
  if (now === seq) return { seq, changes: [], reset: false }
  const floor = Number(st(`SELECT value FROM meta WHERE key = 'changes_floor'`).pluck().get() ?? 0)
  if (seq < floor) return { seq: now, changes: [], reset: true }
  const rows = st(`SELECT kind, id, network_id, max(seq) AS seq FROM changes WHERE seq > ? GROUP BY kind, id ORDER BY 4`).all(seq) as Row[]
  const changes: Change[] = rows.map((r) => {
    const c: Change = { seq: Number(r.seq), kind: r.kind as Change['kind'], id: String(r.id), networkId: String(r.network_id) }
    if (c.kind === 'network') c.network = networkById(st, c.id)
    else c.endpoint = endpointById(st, c.id)
    return c
  })
  return { seq: Math.max(now, seq), changes, reset: false }
}
