// The pools' address arithmetic of every NetworkStore (lib/ipam/store-logic.ts): the automatic subnet,
// requested and reserved addresses, and the cursor scan for a free address.
import { contains, formatIp, formatPrefix, lastOf, parseIp, parsePrefix, overlaps, type Ip, type Prefix } from './ip'
import { StoreError, type PoolRecord } from './network-store'

/**
 * The automatic subnet: the first candidate overlapping no excluded prefix and no subnet the
 * store has (`taken` answers that from the store, inside the transaction).
 */
export function chooseSubnet(auto: { candidates: string[]; exclude: Prefix[] }, taken: (p: Prefix) => boolean): string | undefined {
  for (const c of auto.candidates) {
    const p = parsePrefix(c)
    if (auto.exclude.some((x) => overlaps(x, p))) continue
    if (!taken(p)) return c
  }
  return undefined
}

/** A pool with its numbers. */
export interface Pool {
  def: PoolRecord
  subnet: Prefix
  first: bigint
  last: bigint
  rangeFirst: bigint
  rangeLast: bigint
  gateway: bigint
}

export function poolOf(def: PoolRecord): Pool {
  const subnet = parsePrefix(def.subnet)
  const range = def.ipRange ? parsePrefix(def.ipRange) : subnet
  return { def, subnet, first: subnet.network, last: lastOf(subnet), rangeFirst: range.network, rangeLast: lastOf(range), gateway: parseIp(def.gateway).value }
}

/** The network address, the IPv4 broadcast address and the gateway are never handed out. */
export function isReserved(p: Pool, v: bigint): boolean {
  return v === p.first || v === p.gateway || (p.def.family === 4 && v === p.last)
}

export function subnetConflict(p: Prefix, name: string, other: string, otherSubnet: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_SUBNET_OVERLAP', `the subnet ${formatPrefix(p)} overlaps ${otherSubnet} of the network '${other}'`, { network: name })
}

/** Checks a requested address against a pool; returns its canonical text. */
export function checkRequested(pool: Pool, ip: Ip, network: string): string {
  const address = formatIp(ip)
  if (!contains(pool.subnet, ip))
    throw new StoreError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `${address} is outside the subnet ${pool.def.subnet} of the network '${network}'`, {
      network,
      address,
    })
  if (isReserved(pool, ip.value)) {
    const what = ip.value === pool.gateway ? 'the gateway' : ip.value === pool.first ? 'the network address' : 'the broadcast address'
    throw new StoreError('ERR_NETNS_KIT_IP_RESERVED', `${address} is ${what} of the network '${network}'`, { network, address })
  }
  return address
}

export function exhausted(pool: Pool, network: string): StoreError {
  return new StoreError('ERR_NETNS_KIT_POOL_EXHAUSTED', `no free address left in ${pool.def.ipRange ?? pool.def.subnet} of the network '${network}'`, {
    network,
  })
}

/**
 * The segments to scan for a free address, in cursor order: after the last one handed out to
 * the end of the range, then from the start of the range to the cursor (netavark's and
 * host-local's order: a released address comes back last).
 */
export function scanSegments(pool: Pool, cursor: bigint | undefined): [bigint, bigint][] {
  const { rangeFirst: lo, rangeLast: hi } = pool
  if (cursor === undefined || cursor < lo || cursor >= hi) return [[lo, hi]]
  return [
    [cursor + 1n, hi],
    [lo, cursor],
  ]
}

/**
 * The first free address of [lo, hi] given the allocated ones of that segment in ascending order
 * (an index range scan, stopped at the first gap): O(allocated run after lo), never O(range).
 */
export function firstFree(pool: Pool, lo: bigint, hi: bigint, taken: Iterable<bigint>): bigint | undefined {
  let c = lo
  const skip = () => {
    while (c <= hi && isReserved(pool, c)) c++
  }
  skip()
  for (const t of taken) {
    if (c > hi) return undefined
    if (t < c) continue
    if (t > c) return c
    c++
    skip()
  }
  return c <= hi ? c : undefined
}

/** firstFree over an asynchronous ascending sequence (a store read page by page). */
export async function firstFreeAsync(pool: Pool, lo: bigint, hi: bigint, taken: AsyncIterable<bigint>): Promise<bigint | undefined> {
  let c = lo
  const skip = () => {
    while (c <= hi && isReserved(pool, c)) c++
  }
  skip()
  for await (const t of taken) {
    if (c > hi) return undefined
    if (t < c) continue
    if (t > c) return c
    c++
    skip()
  }
  return c <= hi ? c : undefined
}
