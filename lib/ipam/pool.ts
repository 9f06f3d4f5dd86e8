// Network names and address pools as netns-kit takes them: checked before anything reaches a store.
import { invalidArg } from '../errors'
import { contains, formatIp, formatPrefix, lastOf, parseIp, parsePrefix, sizeOf, within, type Family } from './ip'

/** One address pool of a network: the subnet, its gateway and the range addresses are handed out from. */
export interface PoolDefinition {
  family: Family
  /** The network prefix, '172.18.0.0/16'. */
  subnet: string
  /** Reserved for the bridge (or the router): never handed out. */
  gateway: string
  /** Automatic allocations come from here (a prefix inside the subnet); the whole subnet when absent. */
  ipRange?: string
}

export interface PoolOptions {
  subnet: string
  /** Default: the first address after the network address ('172.18.0.1'). */
  gateway?: string
  /** A prefix inside the subnet to allocate from (Docker's --ip-range). */
  ipRange?: string
}

/** Network names as Docker takes them (and safe in a store key): letters, digits, '_', '.', '-'. */
export function checkNetworkName(name: unknown, arg = 'name'): string {
  if (typeof name !== 'string') throw invalidArg(arg, name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name))
    throw invalidArg(arg, name, "must be 1 to 128 characters of letters, digits, '_', '.', '-', starting with a letter or digit")
  return name
}

/** Validates one pool's options into a pool definition. */
export function makePool(o: PoolOptions, arg: string, family?: Family): PoolDefinition {
  const subnet = parsePrefix(o.subnet, `${arg}.subnet`)
  if (family && subnet.family !== family) throw invalidArg(`${arg}.subnet`, o.subnet, `must be an IPv${family} prefix`)
  // Room for the network address, the gateway and one more (and the IPv4 broadcast address).
  const maxLen = subnet.family === 4 ? 30 : 126
  if (subnet.prefixLength > maxLen) throw invalidArg(`${arg}.subnet`, o.subnet, `must have a prefix length of at most ${maxLen} (no room for addresses)`)
  let gateway: bigint
  if (o.gateway !== undefined) {
    const g = parseIp(o.gateway, `${arg}.gateway`)
    if (!contains(subnet, g)) throw invalidArg(`${arg}.gateway`, o.gateway, `must be inside the subnet ${formatPrefix(subnet)}`)
    if (g.value === subnet.network || (subnet.family === 4 && g.value === lastOf(subnet))) {
      throw invalidArg(`${arg}.gateway`, o.gateway, 'must not be the network or broadcast address')
    }
    gateway = g.value
  } else {
    gateway = subnet.network + 1n
  }
  const def: PoolDefinition = { family: subnet.family, subnet: formatPrefix(subnet), gateway: formatIp({ family: subnet.family, value: gateway }) }
  if (o.ipRange !== undefined) {
    const r = parsePrefix(o.ipRange, `${arg}.ipRange`)
    if (!within(r, subnet)) throw invalidArg(`${arg}.ipRange`, o.ipRange, `must be inside the subnet ${formatPrefix(subnet)}`)
    let usable = sizeOf(r)
    for (const v of [subnet.network, gateway, ...(subnet.family === 4 ? [lastOf(subnet)] : [])]) if (contains(r, { family: r.family, value: v })) usable--
    if (usable < 1n) throw invalidArg(`${arg}.ipRange`, o.ipRange, 'leaves no address to hand out')
    def.ipRange = formatPrefix(r)
  }
  return def
}
