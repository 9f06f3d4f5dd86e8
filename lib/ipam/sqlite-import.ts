// The one-time import of a 0.1 FileStore's records (read by filestore-import.ts) into the SQLite
// schema, inside the transaction SqliteStore opens for it.
import type BetterSqlite3 from 'better-sqlite3'
import { formatIp, parseIp } from './ip'
import type { FileStoreImport } from './filestore-import'
import { hexOf, nameKey, nsKey, poolOf, scopeOf } from './store-logic'

/** Inserts the records unless the marker says it was done; returns what came in (undefined: done before). */
export function importRecords(
  data: FileStoreImport,
  st: (sql: string) => BetterSqlite3.Statement,
): { networks: number; endpoints: number; allocations: number } | undefined {
  const addRule = st('INSERT INTO rules (rule_id, network_id, endpoint_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
  if (st(`SELECT 1 FROM meta WHERE key = 'filestore_imported'`).get()) return undefined
  const c = { networks: 0, endpoints: 0, allocations: 0 }
  for (const n of data.networks) {
    const scope = scopeOf(n.host)
    const ins =
      st(`INSERT INTO networks (id, name, scope, host_dev, host_ino, host_path, driver, state, owner_pid, owner_start, owner_boot, config, labels, created)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`).run(
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
    if (ins.changes !== 1) continue
    c.networks++
    for (const p of n.pools) {
      const pool = poolOf(p)
      st(`INSERT INTO pools (network_id, family, scope, subnet, gateway, ip_range, first, last, cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        n.id,
        p.family,
        scope,
        p.subnet,
        p.gateway,
        p.ipRange ?? null,
        hexOf(pool.first),
        hexOf(pool.last),
        p.cursor ? hexOf(parseIp(p.cursor).value) : null,
      )
    }
    for (const r of n.rules) addRule.run(r, n.id, null)
    const inserted = new Set<string>()
    for (const e of n.endpoints) {
      const ins =
        st(`INSERT INTO endpoints (id, network_id, name, name_key, aliases, hostname, state, owner_pid, owner_start, owner_boot, ns_key, ns_dev, ns_ino, ns_path,
          ifname, host_scope, host_if, mac, gw_priority, gw4, gw6, extra_hosts, config, created)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, '[]', '{}', ?) ON CONFLICT DO NOTHING`).run(
          e.id,
          n.id,
          e.name,
          nameKey(e.name),
          JSON.stringify(e.aliases),
          e.hostname ?? null,
          e.state,
          e.owner.pid,
          e.owner.start,
          e.owner.boot,
          nsKey(e.ns),
          e.ns.dev,
          e.ns.ino,
          e.ns.path ?? null,
          e.ifname,
          scope,
          e.hostIf ?? null,
          e.mac ?? null,
          st('SELECT 1 FROM endpoints WHERE ns_key = ? AND gw4 = 1').get(nsKey(e.ns)) ? 0 : 1,
          0,
          n.created,
        )
      if (ins.changes !== 1) continue
      inserted.add(e.id)
      c.endpoints++
      for (const k of new Set([e.name, ...e.aliases, ...(e.hostname ? [e.hostname] : [])].map(nameKey))) {
        st('INSERT INTO names (network_id, name_key, endpoint_id) VALUES (?, ?, ?)').run(n.id, k, e.id)
      }
      for (const p of e.ports) {
        st(
          'INSERT INTO ports (scope, protocol, family, host_ip, host_port, container_port, endpoint_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        ).run(scope, p.protocol, p.family, p.hostIp, p.hostPort, p.containerPort, e.id)
      }
      for (const r of e.rules) addRule.run(r, n.id, e.id)
    }
    for (const a of n.allocations) {
      const ip = parseIp(a.address)
      st('INSERT INTO allocations (network_id, family, key, address, endpoint_id, owner, allocated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
        n.id,
        ip.family,
        hexOf(ip.value),
        formatIp(ip),
        a.endpointId !== undefined && inserted.has(a.endpointId) ? a.endpointId : null,
        a.owner,
        a.at,
      )
      c.allocations++
    }
  }
  st(`INSERT INTO meta (key, value) VALUES ('filestore_imported', ?)`).run(JSON.stringify({ from: data.dir, at: new Date().toISOString(), ...c }))
  return c
}
