// SqliteStore's network transactions (lib/ipam/sqlite-store.ts): create, removal, and the held-row check
// of an intent step, as functions of the statement cache.
import { formatIp, lastOf, parseIp, type Family } from './ip'
import { ownerState, sameOwner, type Owner } from './owner'
import { StoreError, type NetworkRecord, type PoolRecord, type RemoveStart } from './network-store'
import { chooseSubnet, hexOf, noNetwork, normaliseNetworkSpec, notOwner, poolOf, subnetConflict, wrongState } from './store-logic'
import { constraintOf, endpointOf, networkById, ownerOf, type Row, type St } from './sqlite-rows'

/** beginCreateNetwork's transaction: the row `creating`, its pools checked for overlap and inserted. */
export function createNetworkTx(st: St, n: ReturnType<typeof normaliseNetworkSpec>, scope: string): NetworkRecord {
  try {
    st(
      `INSERT INTO networks (id, name, scope, host_dev, host_ino, host_path, driver, state, owner_pid, owner_start, owner_boot, config, labels, created)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?, ?, ?)`,
    ).run(
      n.id,
      n.name,
      scope,
      n.host?.dev ?? null,
      n.host?.ino ?? null,
      n.host?.path ?? null,
      n.driver,
      n.owner.pid,
      n.owner.start,
      n.owner.boot,
      JSON.stringify(n.config),
      JSON.stringify(n.labels),
      n.created,
    )
  } catch (e) {
    const c = constraintOf(e)
    if (c?.includes('networks.scope, networks.name'))
      throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${n.name}' exists`, { network: n.name })
    if (c?.includes('networks.id')) throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network with id '${n.id}' exists`, { network: n.name })
    throw e
  }
  // Overlap: any pool of the same family in this scope or in '*' (or, for '*', anywhere) whose range meets ours.
  const overlapping = st(`SELECT p.subnet, n.name FROM pools p JOIN networks n ON n.id = p.network_id
    WHERE p.family = ? AND p.first <= ? AND p.last >= ? AND (p.scope = ? OR p.scope = '*' OR ? = '*') LIMIT 1`)
  const taken = (family: Family, first: bigint, last: bigint) => overlapping.get(family, hexOf(last), hexOf(first), scope, scope) as Row | undefined
  for (const p of n.pools) {
    let def: PoolRecord
    if ('auto' in p) {
      const subnet = chooseSubnet(p.auto, (c) => taken(4, c.network, lastOf(c)) !== undefined)
      if (!subnet) throw new StoreError('ERR_NETNS_KIT_POOL_EXHAUSTED', 'no free subnet left in the address pools', { network: n.name })
      const net = parseIp(subnet.slice(0, subnet.indexOf('/')))
      def = { family: 4, subnet, gateway: formatIp({ family: 4, value: net.value + 1n }) }
    } else {
      def = p.def
    }
    const pool = poolOf(def)
    const hit = taken(def.family, pool.first, pool.last)
    if (hit) throw subnetConflict(pool.subnet, n.name, String(hit.name), String(hit.subnet))
    st(`INSERT INTO pools (network_id, family, scope, subnet, gateway, ip_range, first, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
      n.id,
      def.family,
      scope,
      def.subnet,
      def.gateway,
      def.ipRange ?? null,
      hexOf(pool.first),
      hexOf(pool.last),
    )
  }
  return networkById(st, n.id)!
}

/** The network row for an intent step: it must exist, be in `state`, and be held by `owner`. */
export function heldNetwork(st: St, id: string, state: string, owner: Owner): Row | undefined {
  const r = st('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined
  if (!r) return undefined
  if (r.state !== state) throw wrongState(`the network '${String(r.name)}'`, String(r.state), state)
  if (!sameOwner(ownerOf(r), owner)) throw notOwner(`the network '${String(r.name)}'`, String(r.state))
  return r
}

/** beginRemoveNetwork's transaction: refused while endpoints are connected unless `force`; the row `removing`. */
export function removeNetworkTx(st: St, id: string, force: boolean | undefined, owner: Owner): RemoveStart {
  const r = st('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined
  if (!r) throw noNetwork(id)
  const held = ownerOf(r)
  if (r.state !== 'ready' && !sameOwner(held, owner) && ownerState(held) !== 'dead') {
    throw new StoreError('ERR_NETNS_KIT_NETWORK_BUSY', `the network '${String(r.name)}' is ${String(r.state)} by process ${held.pid}`, {
      network: String(r.name),
    })
  }
  const eps = st('SELECT * FROM endpoints WHERE network_id = ? ORDER BY rowid').all(id) as Row[]
  if (eps.length && !force) {
    throw new StoreError(
      'ERR_NETNS_KIT_NETWORK_IN_USE',
      `the network '${String(r.name)}' has ${eps.length} endpoint(s) (${eps
        .slice(0, 3)
        .map((e) => String(e.name))
        .join(', ')}${eps.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`,
      { network: String(r.name) },
    )
  }
  st(`UPDATE networks SET state = 'removing', owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ?`).run(owner.pid, owner.start, owner.boot, id)
  return { network: networkById(st, id)!, endpoints: eps.map((e) => endpointOf(st, e)) }
}

/** finishRemoveNetwork's transaction: the row deleted (its pools, allocations and rules go with it). */
export function finishRemoveTx(st: St, id: string, owner: Owner): void {
  const r = heldNetwork(st, id, 'removing', owner)
  if (!r) return
  try {
    st('DELETE FROM networks WHERE id = ?').run(id)
  } catch (e) {
    if (/FOREIGN KEY/.test(constraintOf(e) ?? '') || /FOREIGN KEY constraint failed/.test((e as Error).message)) {
      throw new StoreError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${String(r.name)}' still has endpoints`, { network: String(r.name) })
    }
    throw e
  }
}
