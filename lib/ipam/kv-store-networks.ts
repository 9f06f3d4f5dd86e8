// KvNetworkStore's network transactions (lib/ipam/kv-store.ts): create, the rules, removal.
import { formatIp, lastOf, parsePrefix, type Family } from './ip'
import { KvTx } from './kv'
import { ownerState, sameOwner, type Owner } from './owner'
import { StoreError, type EndpointRecord, type NetworkRecord, type PoolRecord, type RemoveStart, type RuleOwner } from './network-store'
import { chooseSubnet, fromHex, hexOf, noNetwork, normaliseNetworkSpec, notOwner, poolOf, subnetConflict, wrongState } from './store-logic'
import { K, logChange, publicEndpoint, publicNetwork, type EndpointDoc, type NetworkDoc, type SubnetEntry } from './kv-store-keys'

/** beginCreateNetwork's transaction: the name and subnets claimed, the record `creating`, the intent. */
export async function createNetworkTx(tx: KvTx, n: ReturnType<typeof normaliseNetworkSpec>, scope: string): Promise<NetworkRecord> {
  if (await tx.get(K.net(n.id))) throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network with id '${n.id}' exists`, { network: n.name })
  if (await tx.get(K.netName(scope, n.name))) throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${n.name}' exists`, { network: n.name })
  // The subnets this one must not overlap: its scope's and every host's ('*'); all scopes' for a '*' network.
  const lists =
    scope === '*'
      ? (await tx.list<{ pools: SubnetEntry[] }>('sub/')).map((x) => ({ key: x.key, pools: x.value.pools }))
      : [
          { key: K.subnets(scope), pools: (await tx.get<{ pools: SubnetEntry[] }>(K.subnets(scope)))?.pools ?? [] },
          { key: K.subnets('*'), pools: (await tx.get<{ pools: SubnetEntry[] }>(K.subnets('*')))?.pools ?? [] },
        ]
  const all = lists.flatMap((l) => l.pools)
  const hitOf = (family: Family, first: bigint, last: bigint) => all.find((s) => s.family === family && fromHex(s.first) <= last && fromHex(s.last) >= first)
  const pools: PoolRecord[] = []
  const mine: SubnetEntry[] = []
  for (const p of n.pools) {
    let def: PoolRecord
    if ('auto' in p) {
      const subnet = chooseSubnet(
        p.auto,
        (c) =>
          hitOf(4, c.network, lastOf(c)) !== undefined || mine.some((m) => m.family === 4 && fromHex(m.first) <= lastOf(c) && fromHex(m.last) >= c.network),
      )
      if (!subnet) throw new StoreError('ERR_NETNS_KIT_POOL_EXHAUSTED', 'no free subnet left in the address pools', { network: n.name })
      def = { family: 4, subnet, gateway: formatIp({ family: 4, value: parsePrefix(subnet).network + 1n }) }
    } else {
      def = p.def
    }
    const pool = poolOf(def)
    const hit = hitOf(def.family, pool.first, pool.last)
    if (hit) throw subnetConflict(pool.subnet, n.name, hit.name, hit.subnet)
    pools.push(def)
    mine.push({ networkId: n.id, name: n.name, family: def.family, first: hexOf(pool.first), last: hexOf(pool.last), subnet: def.subnet })
  }
  const own = lists.find((l) => l.key === K.subnets(scope))?.pools ?? []
  tx.put(K.subnets(scope), { pools: [...own, ...mine] })
  const doc: NetworkDoc = {
    id: n.id,
    name: n.name,
    driver: n.driver,
    host: n.host,
    state: 'creating',
    owner: n.owner,
    pools,
    config: n.config,
    labels: n.labels,
    rules: [],
    created: n.created,
    scope,
  }
  tx.put(K.net(n.id), doc)
  tx.put(K.netName(scope, n.name), n.id)
  tx.put(K.intent('network', n.id), '')
  logChange(tx, 'network', n.id, n.id)
  return publicNetwork(doc)
}

export async function heldNetwork(tx: KvTx, id: string, state: string, owner: Owner): Promise<NetworkDoc | undefined> {
  const d = await tx.get<NetworkDoc>(K.net(id))
  if (!d) return undefined
  if (d.state !== state) throw wrongState(`the network '${d.name}'`, d.state, state)
  if (!sameOwner(d.owner, owner)) throw notOwner(`the network '${d.name}'`, d.state)
  return d
}

export async function addRule(tx: KvTx, ruleId: string, o: RuleOwner): Promise<boolean> {
  const cur = await tx.get<RuleOwner>(K.rule(ruleId))
  if (cur) {
    if (cur.networkId === o.networkId && cur.endpointId === o.endpointId) return false
    throw new StoreError(
      'ERR_NETNS_KIT_RULE_OWNED',
      `the rule ${ruleId} belongs to ${cur.endpointId ? `the endpoint ${cur.endpointId}` : `the network ${cur.networkId}`}`,
    )
  }
  tx.put(K.rule(ruleId), o)
  return true
}

/** Deletes a network and what hangs on it (pools, allocations without endpoint, cursors, rules). */
export async function deleteNetwork(tx: KvTx, d: NetworkDoc): Promise<void> {
  const subs = (await tx.get<{ pools: SubnetEntry[] }>(K.subnets(d.scope)))?.pools ?? []
  const left = subs.filter((s) => s.networkId !== d.id)
  if (left.length) tx.put(K.subnets(d.scope), { pools: left })
  else tx.del(K.subnets(d.scope))
  tx.delPrefix(K.netAddrs(d.id))
  for (const p of d.pools) tx.del(K.cursor(d.id, p.family))
  for (const r of d.rules) tx.del(K.rule(r))
  tx.del(K.net(d.id))
  tx.del(K.netName(d.scope, d.name))
  tx.del(K.intent('network', d.id))
  logChange(tx, 'network', d.id, d.id, true)
}

/** beginRemoveNetwork's transaction: refused while endpoints are connected unless `force`; the record `removing`. */
export async function removeNetworkTx(tx: KvTx, id: string, force: boolean | undefined, owner: Owner): Promise<RemoveStart> {
  const d = await tx.get<NetworkDoc>(K.net(id))
  if (!d) throw noNetwork(id)
  if (d.state !== 'ready' && !sameOwner(d.owner, owner) && ownerState(d.owner) !== 'dead') {
    throw new StoreError('ERR_NETNS_KIT_NETWORK_BUSY', `the network '${d.name}' is ${d.state} by process ${d.owner.pid}`, { network: d.name })
  }
  const ids = (await tx.list<string>(K.netEps(id))).map((x) => decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1)))
  if (ids.length && !force) {
    const names: string[] = []
    for (const e of ids.slice(0, 3)) names.push((await tx.get<EndpointDoc>(K.ep(e)))?.name ?? e)
    throw new StoreError(
      'ERR_NETNS_KIT_NETWORK_IN_USE',
      `the network '${d.name}' has ${ids.length} endpoint(s) (${names.join(', ')}${ids.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`,
      { network: d.name },
    )
  }
  const eps: EndpointRecord[] = []
  for (const e of ids) {
    const doc = await tx.get<EndpointDoc>(K.ep(e))
    if (doc) eps.push(publicEndpoint(doc))
  }
  d.state = 'removing'
  d.owner = owner
  tx.put(K.net(id), d)
  tx.put(K.intent('network', id), '')
  logChange(tx, 'network', id, id)
  return { network: publicNetwork(d), endpoints: eps.sort((a, b) => a.created.localeCompare(b.created)) }
}
