// The claims of a connect inside SqliteStore's transaction: an address (given, or the next free one
// after the cursor), a host port, the container's default route; and the hand-over of that route.
import { formatIp, parseIp, type Family } from './ip'
import { StoreError, type GatewayMove } from './network-store'
import { constraintOf, endpointById, type Row, type St } from './sqlite-rows'
import {
  checkRequested,
  claimsOf,
  exhausted,
  firstFree,
  fromHex,
  hexOf,
  noFreePort,
  poolOf,
  portCandidates,
  portTaken,
  scanSegments,
  takesGateway,
  type NormalPort,
} from './store-logic'

/** Allocates an address (given or next free after the cursor) in the transaction. */
export function allocate(
  st: St,
  networkId: string,
  netName: string,
  family: Family,
  ip: ReturnType<typeof parseIp> | undefined,
  endpointId: string | null,
  owner: string,
): string {
  const row = st('SELECT subnet, gateway, ip_range, cursor FROM pools WHERE network_id = ? AND family = ?').get(networkId, family) as Row | undefined
  if (!row)
    throw new StoreError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `the network '${netName}' has no IPv${family} subnet`, {
      network: netName,
      address: ip && formatIp(ip),
    })
  const pool = poolOf({ family, subnet: String(row.subnet), gateway: String(row.gateway), ...(row.ip_range !== null ? { ipRange: String(row.ip_range) } : {}) })
  let value: bigint
  if (ip) {
    checkRequested(pool, ip, netName)
    value = ip.value
  } else {
    const scan = st('SELECT key FROM allocations WHERE network_id = ? AND family = ? AND key >= ? AND key <= ? ORDER BY key').pluck()
    let found: bigint | undefined
    for (const [lo, hi] of scanSegments(pool, row.cursor === null ? undefined : fromHex(String(row.cursor)))) {
      const it = scan.iterate(networkId, family, hexOf(lo), hexOf(hi)) as IterableIterator<string>
      const taken = {
        *[Symbol.iterator]() {
          for (const k of it) yield fromHex(k)
        },
      }
      try {
        found = firstFree(pool, lo, hi, taken)
      } finally {
        it.return?.()
      }
      if (found !== undefined) break
    }
    if (found === undefined) throw exhausted(pool, netName)
    value = found
    st('UPDATE pools SET cursor = ? WHERE network_id = ? AND family = ?').run(hexOf(value), networkId, family)
  }
  const address = formatIp({ family, value })
  try {
    st('INSERT INTO allocations (network_id, family, key, address, endpoint_id, owner, allocated) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      networkId,
      family,
      hexOf(value),
      address,
      endpointId,
      owner,
      new Date().toISOString(),
    )
  } catch (err) {
    if (constraintOf(err)?.includes('allocations.network_id, allocations.family, allocations.key')) {
      const holder = st(
        'SELECT coalesce(e.name, a.owner) FROM allocations a LEFT JOIN endpoints e ON e.id = a.endpoint_id WHERE a.network_id = ? AND a.family = ? AND a.key = ?',
      )
        .pluck()
        .get(networkId, family, hexOf(value))
      throw new StoreError('ERR_NETNS_KIT_IP_IN_USE', `${address} is already allocated to '${String(holder)}' in the network '${netName}'`, {
        network: netName,
        address,
      })
    }
    throw err
  }
  return address
}

export function claimPort(st: St, scope: string, p: NormalPort, endpointId: string): void {
  const clash =
    st(`SELECT e.name FROM ports p JOIN endpoints e ON e.id = p.endpoint_id WHERE p.scope = ? AND p.protocol = ? AND p.host_port = ? AND p.family = ?
    AND (p.host_ip = ? OR p.host_ip = ? OR ? = ?) LIMIT 1`).pluck()
  const claims = claimsOf(p)
  const holderOf = (q: NormalPort, port: number) => {
    const wild = q.family === 4 ? '0.0.0.0' : '::'
    return clash.get(scope, q.protocol, port, q.family, q.hostIp, wild, q.hostIp, wild) as string | undefined
  }
  const holder = (port: number) => {
    for (const q of claims) {
      const h = holderOf(q, port)
      if (h !== undefined) return { q, h }
    }
    return undefined
  }
  let port: number | undefined = p.hostPort
  if (port !== undefined) {
    const h = holder(port)
    if (h !== undefined) throw portTaken({ ...h.q, hostPort: port }, h.h)
  } else {
    const ck = `port:${scope}:${p.protocol}`
    const cur = st('SELECT value FROM cursors WHERE key = ?').pluck().get(ck) as number | undefined
    for (const c of portCandidates(p, cur))
      if (holder(c) === undefined) {
        port = c
        break
      }
    if (port === undefined) throw noFreePort(p)
    st('INSERT INTO cursors (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(ck, port)
  }
  for (const q of claims) {
    st('INSERT INTO ports (scope, protocol, family, host_ip, host_port, container_port, endpoint_id) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      scope,
      q.protocol,
      q.family,
      q.hostIp,
      port,
      q.containerPort,
      endpointId,
    )
  }
}

/** Gives `id` the container's default route of `family` when its priority beats the holder's. */
export function takeGateway(st: St, id: string, key: string, family: Family, priority: number | null): GatewayMove[] {
  const col = family === 4 ? 'gw4' : 'gw6'
  const holder = st(`SELECT id, gw_priority FROM endpoints WHERE ns_key = ? AND ${col} = 1`).get(key) as Row | undefined
  if (holder?.id === id || !takesGateway(priority, holder ? (holder.gw_priority as number | null) : undefined)) return []
  const moves: GatewayMove[] = []
  if (holder) {
    st(`UPDATE endpoints SET ${col} = 0 WHERE id = ?`).run(String(holder.id))
    moves.push({ endpoint: endpointById(st, String(holder.id))!, family, provides: false })
  }
  st(`UPDATE endpoints SET ${col} = 1 WHERE id = ?`).run(id)
  return moves
}

/** After `gone` (which held the default routes `families`) left namespace `key`: the next endpoint by priority, then age, takes them. */
export function handOver(st: St, key: string, families: Family[]): GatewayMove[] {
  const moves: GatewayMove[] = []
  for (const family of families) {
    const col = family === 4 ? 'gw4' : 'gw6'
    if (st(`SELECT 1 FROM endpoints WHERE ns_key = ? AND ${col} = 1`).get(key)) continue
    const next = st(`SELECT e.id FROM endpoints e WHERE e.ns_key = ? AND e.gw_priority IS NOT NULL AND e.state <> 'disconnecting'
      AND EXISTS (SELECT 1 FROM allocations a WHERE a.endpoint_id = e.id AND a.family = ?) ORDER BY e.gw_priority DESC, e.rowid LIMIT 1`)
      .pluck()
      .get(key, family) as string | undefined
    if (next === undefined) continue
    st(`UPDATE endpoints SET ${col} = 1 WHERE id = ?`).run(next)
    moves.push({ endpoint: endpointById(st, next)!, family, provides: true })
  }
  return moves
}

export function addRule(st: St, ruleId: string, networkId: string, endpointId: string | null): void {
  const cur = st('SELECT network_id, endpoint_id FROM rules WHERE rule_id = ?').get(ruleId) as Row | undefined
  if (cur) {
    if (cur.network_id === networkId && cur.endpoint_id === endpointId) return
    throw new StoreError(
      'ERR_NETNS_KIT_RULE_OWNED',
      `the rule ${ruleId} belongs to ${cur.endpoint_id ? `the endpoint ${String(cur.endpoint_id)}` : `the network ${String(cur.network_id)}`}`,
    )
  }
  st('INSERT INTO rules (rule_id, network_id, endpoint_id) VALUES (?, ?, ?)').run(ruleId, networkId, endpointId)
}
