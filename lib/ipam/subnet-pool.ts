// Choosing a free subnet for a network created without one, as Docker does.
import { invalidArg } from '../errors'
import { defaultNamespace, type Namespace } from '../namespace'
import { checkInt } from '../validate'
import { bitsOf, formatPrefix, overlaps, parsePrefix, type Prefix } from './ip'

/** A range of subnets: `base` cut into slices of prefix length `size` (Docker's default-address-pools). */
export interface AddressPool {
  base: string
  size: number
}

/**
 * Docker's choices, in order: 172.17.0.0/16 to 172.31.0.0/16, then the /24 slices of
 * 192.168.0.0/16 (192.168.0.0/24, 192.168.1.0/24, ...).
 */
export const DEFAULT_ADDRESS_POOLS: readonly AddressPool[] = Object.freeze([
  ...Array.from({ length: 15 }, (_, i) => Object.freeze({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  Object.freeze({ base: '192.168.0.0/16', size: 24 }),
])

function checkPools(pools: unknown): { base: Prefix; size: number }[] {
  if (!Array.isArray(pools)) throw invalidArg('pools', pools, 'must be an array of { base, size }', 'ERR_INVALID_ARG_TYPE')
  return pools.map((p: AddressPool, i) => {
    if (!p || typeof p !== 'object') throw invalidArg(`pools[${i}]`, p, 'must be an object { base, size }', 'ERR_INVALID_ARG_TYPE')
    const base = parsePrefix(p.base, `pools[${i}].base`)
    const size = checkInt(p.size, `pools[${i}].size`, base.prefixLength, bitsOf(base.family))
    return { base, size }
  })
}

/**
 * Every candidate subnet of the pools, in order.
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` when `pools` is not an array of { base, size }, `ERR_INVALID_ARG_VALUE` for a `base` that is not a prefix, `ERR_OUT_OF_RANGE` for a `size` shorter than the base's prefix length or longer than the family's bits (thrown on the first next()).
 */
export function* candidateSubnets(pools: readonly AddressPool[] = DEFAULT_ADDRESS_POOLS): Generator<string> {
  for (const { base, size } of checkPools(pools)) {
    const step = 1n << BigInt(bitsOf(base.family) - size)
    const count = 1n << BigInt(size - base.prefixLength)
    for (let i = 0n; i < count; i++) yield formatPrefix({ family: base.family, network: base.network + i * step, prefixLength: size })
  }
}

/**
 * The first candidate subnet of `pools` that overlaps none of `used` (prefixes of routes,
 * of addresses with their prefix length, of other networks; host bits may be set, and
 * default routes are ignored), or undefined when every candidate is taken. Pure.
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` when `used` is not an array, `ERR_INVALID_ARG_VALUE` for an entry that is not a prefix; as candidateSubnets() for bad `pools`.
 */
export function chooseSubnet(used: readonly string[], pools: readonly AddressPool[] = DEFAULT_ADDRESS_POOLS): string | undefined {
  if (!Array.isArray(used)) throw invalidArg('used', used, 'must be an array of prefixes', 'ERR_INVALID_ARG_TYPE')
  const taken = used.map((u, i) => parsePrefix(u, `used[${i}]`, false)).filter((p) => p.prefixLength > 0)
  for (const c of candidateSubnets(pools)) {
    const p = parsePrefix(c)
    if (!taken.some((t) => overlaps(p, t))) return c
  }
  return undefined
}

/**
 * The prefixes in use in a namespace (`ip route show table all` without default routes,
 * and the prefix of every address of `ip addr`), for chooseSubnet().
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `namespace` is not a Namespace.
 * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 */
export async function prefixesInUse(namespace?: Namespace, family: 4 | 6 = 4): Promise<string[]> {
  const ns = await defaultNamespace(namespace)
  const [routes, addrs] = await Promise.all([ns.routes.list({ family, table: 0 }), ns.addresses()])
  const out = new Set<string>()
  for (const r of routes) if (r.to !== 'default') out.add(r.to)
  for (const a of addrs) if (a.family === family) out.add(formatPrefix(parsePrefix(a.cidr, 'address', false)))
  return [...out]
}

/**
 * The first subnet of `pools` free in `namespace` (no route or address there overlaps it)
 * and overlapping none of `exclude` (other networks' subnets): chooseSubnet() fed from
 * the kernel. Undefined when none is left.
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for bad options, pools or exclude prefixes (as chooseSubnet()).
 * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 */
export async function findFreeSubnet(
  opts: { namespace?: Namespace; pools?: readonly AddressPool[]; exclude?: readonly string[] } = {},
): Promise<string | undefined> {
  if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const pools = opts.pools ?? DEFAULT_ADDRESS_POOLS
  chooseSubnet([], pools) // validates before reading the kernel
  return chooseSubnet([...(await prefixesInUse(opts.namespace, 4)), ...(opts.exclude ?? [])], pools)
}
