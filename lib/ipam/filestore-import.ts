// Reading a 0.1 FileStore (JSON records under /run/netns-kit/ipam) for its one-time import into
// the database: IPAM networks and allocations, Network's bridge and endpoint records.
import * as fs from 'node:fs/promises'
import * as path from 'node:path'
import { formatIp, parseIp, type Family } from './ip'
import { bootId, currentOwner, processStartTime, type Owner } from './owner'
import type { NsIdentity, PoolRecord, PortRecord } from './network-store'

export interface ImportEndpoint {
  id: string
  name: string
  aliases: string[]
  hostname?: string
  state: 'connecting' | 'connected'
  owner: Owner
  ns: NsIdentity
  ifname: string
  hostIf?: string
  mac?: string
  ports: PortRecord[]
  rules: string[]
}

export interface ImportNetwork {
  id: string
  name: string
  driver: string
  host: NsIdentity | null
  owner: Owner
  config: Record<string, unknown>
  labels: Record<string, string>
  created: string
  pools: (PoolRecord & { cursor?: string })[]
  rules: string[]
  endpoints: ImportEndpoint[]
  allocations: { address: string; owner: string; at: string; endpointId?: string }[]
}

export interface FileStoreImport {
  dir: string
  networks: ImportNetwork[]
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100

async function bootTimeMs(): Promise<number> {
  const m = /^btime (\d+)$/m.exec(await fs.readFile('/proc/stat', 'utf8'))
  return m ? Number(m[1]) * 1000 : 0
}

/**
 * The owner of a 0.1 'connecting' record, which kept only a pid: the process with that pid now is
 * taken as the owner only if it started before the record was written (else the pid was reused).
 */
async function ownerOfPid(pid: unknown, writtenMs: number): Promise<Owner> {
  const p = typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : 1
  const start = processStartTime(p)
  if (start !== undefined && (await bootTimeMs()) + (Number(start) * 1000) / USER_HZ <= writtenMs + 1000) return { pid: p, start, boot: bootId() }
  return { pid: p, start: 'unknown', boot: bootId() }
}

/**
 * The records of a 0.1 FileStore directory, shaped for the import; undefined when it holds none.
 * Records that do not parse are skipped (they could not be used before either). Rejects with
 * ENOENT when there is no such directory.
 */
export async function readFileStore(dir: string): Promise<FileStoreImport | undefined> {
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'))
  if (!names.length) return undefined
  const records = new Map<string, { value: unknown; mtimeMs: number }>()
  for (const n of names) {
    try {
      const file = path.join(dir, n)
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)])
      const rec = JSON.parse(text) as { value?: unknown }
      records.set(n.slice(0, -'.json'.length), { value: rec.value, mtimeMs: st.mtimeMs })
    } catch {
      /* a torn or foreign file: skipped */
    }
  }
  const me = currentOwner()
  const ipamNets = obj(obj(records.get('networks')?.value).networks)
  const out: ImportNetwork[] = []
  for (const [name, raw] of Object.entries(ipamNets)) {
    const n = obj(raw)
    const id = str(n.id)
    if (!id || !Array.isArray(n.pools)) continue
    const bridge = obj(records.get(`network.${name}`)?.value)
    const isBridge = bridge.id === id
    const host = isBridge ? obj(bridge.host) : undefined
    const alloc = obj(records.get(`alloc.${name}`)?.value)
    const allocPools = alloc.networkId === id ? obj(alloc.pools) : {}
    const pools = (n.pools as unknown[]).map((p) => {
      const q = obj(p)
      const pool: PoolRecord & { cursor?: string } = { family: q.family === 6 ? 6 : 4, subnet: String(q.subnet), gateway: String(q.gateway) }
      if (typeof q.ipRange === 'string') pool.ipRange = q.ipRange
      const cursor = str(obj(allocPools[pool.subnet]).cursor)
      if (cursor) pool.cursor = cursor
      return pool
    })
    const endpoints: ImportEndpoint[] = []
    if (isBridge) {
      for (const [key, r] of records) {
        if (!key.startsWith(`endpoint.${name}.`)) continue
        const e = obj(r.value)
        if (e.networkId !== id || typeof e.id !== 'string' || typeof e.name !== 'string') continue
        const ns = obj(e.ns)
        const connecting = e.state === 'connecting'
        const ports = (Array.isArray(e.ports) ? e.ports : []).map((x) => {
          const p = obj(x)
          const hostIp = str(p.hostIp) ?? '0.0.0.0'
          return {
            protocol: (str(p.protocol) ?? 'tcp') as PortRecord['protocol'],
            family: (hostIp.includes(':') ? 6 : 4) as Family,
            hostIp,
            hostPort: Number(p.hostPort),
            containerPort: Number(p.containerPort),
          }
        })
        endpoints.push({
          id: e.id,
          name: e.name,
          aliases: Array.isArray(e.aliases) ? e.aliases.filter((a): a is string => typeof a === 'string') : [],
          ...(typeof e.hostname === 'string' ? { hostname: e.hostname } : {}),
          state: connecting ? 'connecting' : 'connected',
          owner: connecting ? await ownerOfPid(e.pid, r.mtimeMs) : me,
          ns: { dev: String(ns.dev), ino: String(ns.ino), ...(typeof ns.path === 'string' ? { path: ns.path } : {}) },
          ifname: str(e.ifname) ?? 'eth0',
          ...(typeof e.hostIf === 'string' ? { hostIf: e.hostIf } : {}),
          ...(typeof e.mac === 'string' ? { mac: e.mac } : {}),
          ports,
          rules: Array.isArray(e.rules) ? e.rules.filter((x): x is string => typeof x === 'string') : [],
        })
      }
    }
    const epIds = new Set(endpoints.map((e) => e.id))
    const allocations: ImportNetwork['allocations'] = []
    for (const slot of Object.values(allocPools)) {
      for (const [ip, a] of Object.entries(obj(obj(slot).addresses))) {
        const owner = str(obj(a).owner) ?? 'imported'
        let address: string
        try {
          address = formatIp(parseIp(ip))
        } catch {
          continue
        }
        allocations.push({ address, owner, at: str(obj(a).at) ?? new Date().toISOString(), ...(epIds.has(owner) ? { endpointId: owner } : {}) })
      }
    }
    const config: Record<string, unknown> = {}
    if (isBridge) for (const k of ['bridge', 'mtu', 'masquerade', 'icc', 'internal', 'dns', 'upstream']) if (bridge[k] !== undefined) config[k] = bridge[k]
    out.push({
      id,
      name,
      driver: isBridge ? 'bridge' : 'ipam',
      // IPAM-only networks (macvlan, overlay, direct Ipam users) had no host: they stay store-wide.
      host: host ? { dev: String(host.dev), ino: String(host.ino), ...(typeof host.path === 'string' ? { path: host.path } : {}) } : null,
      owner: me,
      config,
      labels: Object.fromEntries(Object.entries(obj(n.labels)).filter(([, v]) => typeof v === 'string')) as Record<string, string>,
      created: str(n.created) ?? new Date().toISOString(),
      pools,
      rules: isBridge && Array.isArray(bridge.rules) ? bridge.rules.filter((x): x is string => typeof x === 'string') : [],
      endpoints,
      allocations,
    })
  }
  return { dir, networks: out }
}
