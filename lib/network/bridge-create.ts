// The bridge driver's Network.create: the name and subnets claimed in the store, then the
// network's NAT and isolation, the bridge and its addresses, then the record finished (lib/network/bridge.ts).
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { invalidArg } from '../errors'
import { prefixesInUse, type NetworkRecord, type NetworkStore, type PoolSpec } from '../ipam'
import { parsePrefix } from '../ipam/ip'
import { createdBefore, run, runOne } from '../kernel/rtnl'
import { createNetworkNat, newNetworkIds, networkIdsToList } from '../nat'
import { Namespace, defaultNamespace } from '../namespace'
import { checkCreateOptions, type NetworkCreateOptions } from './bridge-options'
import { randomMac } from './mac'
import { networkNat } from './nat-state'
import { bridgeAlias } from './owned'
import { bridgeConfig, identity, storeOf } from './state'
import { teardownBridgeNetwork } from './teardown'
import type { Network } from './bridge'

function prefixLen(cidr: string): number {
  return Number(cidr.split('/')[1])
}

/**
 * The bridge driver's Network.create (see its docstring): checks, intent, kernel, result.
 * `make` builds the Network object of the finished record (its constructor is private).
 */
export async function createBridgeNetwork(
  opts: NetworkCreateOptions,
  make: (ns: Namespace, store: NetworkStore, rec: NetworkRecord, bridge: Bridge) => Network,
): Promise<Network> {
  const o = checkCreateOptions(opts)
  const { name } = o
  const store = storeOf(opts.store)
  if (opts.subnet !== undefined && parsePrefix(opts.subnet, 'opts.subnet').family !== 4)
    throw invalidArg('opts.subnet', opts.subnet, 'must be an IPv4 subnet (IPv6 goes in opts.ipv6)')
  if (opts.subnet === undefined && (opts.gateway !== undefined || opts.ipRange !== undefined)) {
    throw invalidArg(opts.gateway !== undefined ? 'opts.gateway' : 'opts.ipRange', opts.gateway ?? opts.ipRange, 'needs opts.subnet')
  }
  if (opts.ipv6 !== undefined && (!opts.ipv6 || typeof opts.ipv6 !== 'object'))
    throw invalidArg('opts.ipv6', opts.ipv6, 'must be an object { subnet, gateway? }', 'ERR_INVALID_ARG_TYPE')
  const ns = await defaultNamespace(opts.namespace)
  // The bridge's name is chosen before anything is recorded: a process killed from here on leaves it findable.
  const generated = o.bridgeName === undefined
  const bridgeName = o.bridgeName ?? `br-${randomBytes(6).toString('hex')}`
  const pools: PoolSpec[] = [
    opts.subnet !== undefined
      ? { family: 4, subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange }
      : { auto: true, exclude: await prefixesInUse(ns, 4) },
    ...(opts.ipv6 ? [{ family: 6 as const, subnet: opts.ipv6.subnet, gateway: opts.ipv6.gateway }] : []),
  ]
  const config: Record<string, unknown> = {
    bridge: bridgeName,
    masquerade: o.masquerade,
    icc: o.icc,
    internal: o.internal,
    antiSpoofing: o.antiSpoofing,
    dns: o.dns,
  }
  if (generated) config.generated = true
  if (o.mtu !== undefined) config.mtu = o.mtu
  if (o.upstream !== undefined) config.upstream = o.upstream
  // The ids of its masquerade rules (one per subnet, in the order of the pools) and isolation
  // elements, in its configuration: check() and gc find them by role, whatever order a store lists rules in.
  const ids = newNetworkIds({ subnets: pools.map(() => ''), masquerade: o.masquerade, internal: o.internal })
  config.nat = ids
  // 1. The intent: name and subnets claimed (ERR_NETNS_KIT_NETWORK_EXISTS, _SUBNET_OVERLAP, _POOL_EXHAUSTED).
  const net = await store.beginCreateNetwork({ name, driver: 'bridge', host: identity(ns), pools, config })
  const cfg = bridgeConfig(net)
  const rules: string[] = []
  try {
    // 2. The kernel. First the network's isolation, hairpin and masquerade (ids recorded before
    // the batch, so a kill after it leaves nothing the record does not name): keyed by the
    // bridge's name, they are in place before the bridge exists, which never forwards a packet
    // unisolated. Then the bridge (up, a fixed MAC), then, by its index (never by name: a link of
    // that name could be someone else's), its alias and addresses. A kill between the two trips
    // leaves a bridge without an alias, with the name the intent recorded: gc takes it as this
    // network's when netns-kit drew the name.
    const v4 = net.pools.find((p) => p.family === 4)!
    const v6 = net.pools.find((p) => p.family === 6)
    rules.push(...networkIdsToList(ids))
    await store.addRules({ networkId: net.id }, networkIdsToList(ids))
    await createNetworkNat(ns, networkNat(net, [], ids))
    const [, l] = await run([
      { ns, op: 'link.create', kind: 'bridge', name: bridgeName, mtu: o.mtu, mac: randomMac(), up: true, object: bridgeName },
      { ns, op: 'link.get', name: bridgeName, object: bridgeName },
    ] as const).catch(async (e: unknown) => {
      // Ours only if the create took effect (EEXIST: a link of that name that is someone else's).
      if (createdBefore(e)) await runOne({ ns, op: 'link.delete', name: bridgeName, ignoreMissing: true }).catch(() => {})
      throw e
    })
    await run([
      { ns, op: 'link.set', index: l.index, alias: bridgeAlias(name), object: bridgeName },
      { ns, op: 'addr.add', index: l.index, address: v4.gateway, prefixLength: prefixLen(v4.subnet), object: `${v4.gateway} on ${bridgeName}` },
      ...(v6
        ? [
            {
              ns,
              op: 'addr.add' as const,
              index: l.index,
              address: v6.gateway,
              prefixLength: prefixLen(v6.subnet),
              nodad: true,
              object: `${v6.gateway} on ${bridgeName}`,
            },
          ]
        : []),
    ])
    const bridge = new Bridge(ns, l.name, l.index)
    // 3. The result.
    return make(ns, store, await store.finishCreateNetwork(net.id), bridge)
  } catch (e) {
    await teardownBridgeNetwork(ns, { ...net, rules }, cfg).catch(() => {})
    await store.abortCreateNetwork(net.id).catch(() => {})
    throw e
  }
}
