// The default NetworkStore: one SQLite database (better-sqlite3, WAL) under /run/netns-kit,
// shared by every process of the host. Transactions are short and synchronous; a lock held by
// another process is never waited for on the event loop: BEGIN IMMEDIATE fails at once
// (busy_timeout 0) and is retried after a jittered, asynchronous backoff.
import * as fs from 'node:fs'
import * as path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { NetnsKitError, invalidArg } from '../errors'
import { formatIp, lastOf, parseIp, type Family } from './ip'
import { currentOwner, ownerState, sameOwner, type Owner } from './owner'
import {
  StoreError,
  type ChangeBatch,
  type Change,
  type ConnectResult,
  type CreateNetworkSpec,
  type DisconnectStart,
  type EndpointRecord,
  type EndpointSpec,
  type FinishConnectPatch,
  type GatewayMove,
  type Intent,
  type NetworkRecord,
  type NetworkStore,
  type NsIdentity,
  type PoolRecord,
  type RemoveStart,
  type RuleOwner,
} from './network-store'
import { SCHEMA, SCHEMA_VERSION } from './sqlite-schema'
import {
  autoIfname,
  backoff,
  busy,
  checkId,
  checkNs,
  checkRecordName,
  checkRules,
  chooseSubnet,
  hexOf,
  nameKey,
  noEndpoint,
  noNetwork,
  normaliseEndpointSpec,
  normaliseNetworkSpec,
  notOwner,
  nsKey,
  poolOf,
  scopeOf,
  sleep,
  subnetConflict,
  wrongState,
} from './store-logic'
import { readFileStore, type FileStoreImport } from './filestore-import'
import { importRecords } from './sqlite-import'
import { ChangeWatcher } from './sqlite-watch'
import { allocate, addRule, claimPort, handOver, takeGateway } from './sqlite-claims'
import { constraintOf, endpointById, endpointOf, networkById, networkOf, ownerOf, type Row, type St } from './sqlite-rows'

/** netns-kit's state directory (tmpfs on a normal host: it dies at reboot with the kernel state it describes). */
export const STATE_DIR = '/run/netns-kit'
/** Where the database lives by default. */
export const DEFAULT_DB_PATH = `${STATE_DIR}/state.db`

export interface SqliteStoreOptions {
  /** The database file (default /run/netns-kit/state.db); its directory is made 0700, the file 0600. */
  path?: string
  /** How long a transaction waits, in total, for other processes' locks before ERR_NETNS_KIT_STORE_BUSY (ms, default 10000). */
  busyTimeoutMs?: number
  /**
   * A 0.1 FileStore directory imported once into the database and renamed aside (default: `ipam/`
   * beside the database, as /run/netns-kit/ipam); false: none.
   */
  importFileStore?: string | false
  /** How often onChange() listeners check for other processes' commits, besides inotify (ms, default 50). */
  pollMs?: number
}

type Db = BetterSqlite3.Database

function loadDriver(): typeof BetterSqlite3 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('better-sqlite3') as typeof BetterSqlite3
}

const isBusy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: string })?.code ?? ''))

/**
 * The state store on SQLite (`better-sqlite3`): see NetworkStore. One database file, WAL mode,
 * foreign keys on; every change one BEGIN IMMEDIATE transaction of a few statements. A 0.1
 * FileStore found beside the database is imported once and renamed aside.
 */
export class SqliteStore implements NetworkStore {
  readonly path: string
  readonly busyTimeoutMs: number
  readonly importDir: string | undefined
  readonly pollMs: number
  /** What the import of a 0.1 FileStore brought in (once it ran). */
  imported: { networks: number; endpoints: number; allocations: number; renamedTo: string } | undefined
  /**
   * What this object did: synchronous calls into SQLite (each a whole transaction, or a BEGIN
   * refused at once), how long they held the event loop, and how often the lock was busy.
   */
  readonly stats = { calls: 0, totalSyncMs: 0, maxSyncMs: 0, busyRetries: 0 }
  #db: Db | undefined
  #opening: Promise<Db> | undefined
  readonly #stmts = new Map<string, BetterSqlite3.Statement>()
  readonly #stf: St = (sql) => this.#st(sql)
  readonly #watcher: ChangeWatcher
  #commits = 0
  #closed = false

  constructor(opts: SqliteStoreOptions = {}) {
    if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const p = opts.path ?? DEFAULT_DB_PATH
    if (typeof p !== 'string' || !path.isAbsolute(p)) throw invalidArg('opts.path', p, 'must be an absolute path')
    const t = opts.busyTimeoutMs ?? 10000
    if (typeof t !== 'number' || !(t >= 0) || t > 3_600_000) throw invalidArg('opts.busyTimeoutMs', t, 'must be a number of milliseconds from 0 to 3600000')
    const poll = opts.pollMs ?? 50
    if (typeof poll !== 'number' || !(poll >= 5) || poll > 60_000) throw invalidArg('opts.pollMs', poll, 'must be from 5 to 60000 ms')
    const imp = opts.importFileStore
    if (imp !== undefined && imp !== false && (typeof imp !== 'string' || !path.isAbsolute(imp)))
      throw invalidArg('opts.importFileStore', imp, 'must be an absolute path or false')
    this.path = path.resolve(p)
    this.busyTimeoutMs = t
    this.pollMs = poll
    this.importDir = imp === false ? undefined : (imp ?? path.join(path.dirname(this.path), 'ipam'))
    this.#watcher = new ChangeWatcher(
      this.path,
      poll,
      () => this.#open(),
      () => this.#db,
    )
  }

  // --- opening ------------------------------------------------------------------------------

  #open(): Promise<Db> {
    if (this.#closed) return Promise.reject(new NetnsKitError('ERR_NETNS_KIT_CLOSED', `the store ${this.path} is closed`))
    if (this.#db) return Promise.resolve(this.#db)
    this.#opening ??= this.#doOpen().finally(() => {
      this.#opening = undefined
    })
    return this.#opening
  }

  async #doOpen(): Promise<Db> {
    const dir = path.dirname(this.path)
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 })
    const st = await fs.promises.lstat(dir)
    if (!st.isDirectory()) throw new NetnsKitError('ERR_NETNS_KIT_STORE', `${dir} is not a directory`)
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) await fs.promises.chmod(dir, 0o700)
    // Created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode).
    const fh = await fs.promises.open(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
    try {
      if (((await fh.stat()).mode & 0o777) !== 0o600) await fh.chmod(0o600)
    } finally {
      await fh.close()
    }
    const Driver = loadDriver()
    const db = new Driver(this.path, { timeout: 0 })
    try {
      db.pragma('foreign_keys = ON')
      db.pragma('synchronous = NORMAL')
      db.pragma('wal_autocheckpoint = 256')
      await this.#retry('open', () => {
        if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL')
      })
      await this.#retry('schema', () => {
        if (Number(db.pragma('user_version', { simple: true })) === SCHEMA_VERSION) return
        db.transaction(() => {
          const v = Number(db.pragma('user_version', { simple: true }))
          if (v === SCHEMA_VERSION) return
          if (v !== 0) throw new NetnsKitError('ERR_NETNS_KIT_STORE', `${this.path} has schema version ${v}; this netns-kit knows ${SCHEMA_VERSION}`)
          db.exec(SCHEMA)
          db.pragma(`user_version = ${SCHEMA_VERSION}`)
        }).immediate()
      })
    } catch (e) {
      db.close()
      throw e
    }
    this.#db = db
    try {
      if (this.importDir) await this.#import(this.importDir)
    } catch (e) {
      // Not opened until the import went through: the next call tries again.
      this.#db = undefined
      this.#stmts.clear()
      db.close()
      throw e
    }
    return db
  }

  /** Runs a synchronous step, retrying it asynchronously while another process holds the lock. */
  async #retry<T>(what: string, fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs
    const st = this.stats
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now()
      try {
        return fn()
      } catch (e) {
        if (!isBusy(e)) throw e
        st.busyRetries++
      } finally {
        const ms = performance.now() - t0
        st.calls++
        st.totalSyncMs += ms
        if (ms > st.maxSyncMs) st.maxSyncMs = ms
      }
      if (Date.now() >= deadline) throw busy(this.busyTimeoutMs, what)
      await sleep(backoff(attempt))
    }
  }

  #st(sql: string): BetterSqlite3.Statement {
    let s = this.#stmts.get(sql)
    if (!s) {
      s = this.#db!.prepare(sql)
      this.#stmts.set(sql, s)
    }
    return s
  }

  /** One write transaction (BEGIN IMMEDIATE), retried while the lock is busy; listeners told after commit. */
  async #write<T>(what: string, fn: () => T): Promise<T> {
    const db = await this.#open()
    const tx = db.transaction(fn)
    const r = await this.#retry(what, () => tx.immediate())
    if (++this.#commits % 1024 === 0) await this.#retry('trim', () => this.#trim())
    this.#watcher.notify()
    return r
  }

  /** A consistent read (a deferred transaction: WAL readers never wait for writers). */
  async #read<T>(fn: () => T): Promise<T> {
    const db = await this.#open()
    const tx = db.transaction(fn)
    return this.#retry('read', () => tx.deferred())
  }

  // --- rows to records ----------------------------------------------------------------------

  // --- networks -----------------------------------------------------------------------------

  async beginCreateNetwork(spec: CreateNetworkSpec): Promise<NetworkRecord> {
    const n = normaliseNetworkSpec(spec)
    const scope = scopeOf(n.host)
    return this.#write('create network', () => {
      try {
        this.#st(
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
      const overlapping = this.#st(`SELECT p.subnet, n.name FROM pools p JOIN networks n ON n.id = p.network_id
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
        this.#st(`INSERT INTO pools (network_id, family, scope, subnet, gateway, ip_range, first, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
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
      return networkById(this.#stf, n.id)!
    })
  }

  /** The network row for an intent step: it must exist, be in `state`, and be held by `owner`. */
  #heldNetwork(id: string, state: string, owner: Owner): Row | undefined {
    const r = this.#st('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined
    if (!r) return undefined
    if (r.state !== state) throw wrongState(`the network '${String(r.name)}'`, String(r.state), state)
    if (!sameOwner(ownerOf(r), owner)) throw notOwner(`the network '${String(r.name)}'`, String(r.state))
    return r
  }

  async finishCreateNetwork(id: string, patch: { rules?: string[]; config?: Record<string, unknown> } = {}, owner = currentOwner()): Promise<NetworkRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    const config = patch.config === undefined ? undefined : JSON.stringify(patch.config)
    return this.#write('finish create', () => {
      if (!this.#heldNetwork(id, 'creating', owner)) throw noNetwork(id)
      this.#st(`UPDATE networks SET state = 'ready', config = coalesce(?, config) WHERE id = ?`).run(config ?? null, id)
      for (const r of rules) addRule(this.#stf, r, id, null)
      return networkById(this.#stf, id)!
    })
  }

  async abortCreateNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#write('abort create', () => {
      if (this.#heldNetwork(id, 'creating', owner)) this.#st('DELETE FROM networks WHERE id = ?').run(id)
    })
  }

  async beginRemoveNetwork(id: string, opts: { force?: boolean; owner?: Owner } = {}): Promise<RemoveStart> {
    checkId(id, 'id')
    const owner = opts.owner ?? currentOwner()
    return this.#write('remove network', () => {
      const r = this.#st('SELECT * FROM networks WHERE id = ?').get(id) as Row | undefined
      if (!r) throw noNetwork(id)
      const held = ownerOf(r)
      if (r.state !== 'ready' && !sameOwner(held, owner) && ownerState(held) !== 'dead') {
        throw new StoreError('ERR_NETNS_KIT_NETWORK_BUSY', `the network '${String(r.name)}' is ${String(r.state)} by process ${held.pid}`, {
          network: String(r.name),
        })
      }
      const eps = this.#st('SELECT * FROM endpoints WHERE network_id = ? ORDER BY rowid').all(id) as Row[]
      if (eps.length && !opts.force) {
        throw new StoreError(
          'ERR_NETNS_KIT_NETWORK_IN_USE',
          `the network '${String(r.name)}' has ${eps.length} endpoint(s) (${eps
            .slice(0, 3)
            .map((e) => String(e.name))
            .join(', ')}${eps.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`,
          { network: String(r.name) },
        )
      }
      this.#st(`UPDATE networks SET state = 'removing', owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ?`).run(
        owner.pid,
        owner.start,
        owner.boot,
        id,
      )
      return { network: networkById(this.#stf, id)!, endpoints: eps.map((e) => endpointOf(this.#stf, e)) }
    })
  }

  async finishRemoveNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#write('finish remove', () => {
      const r = this.#heldNetwork(id, 'removing', owner)
      if (!r) return
      try {
        this.#st('DELETE FROM networks WHERE id = ?').run(id)
      } catch (e) {
        if (/FOREIGN KEY/.test(constraintOf(e) ?? '') || /FOREIGN KEY constraint failed/.test((e as Error).message)) {
          throw new StoreError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${String(r.name)}' still has endpoints`, { network: String(r.name) })
        }
        throw e
      }
    })
  }

  async network(id: string): Promise<NetworkRecord | undefined> {
    checkId(id, 'id')
    return this.#read(() => networkById(this.#stf, id))
  }

  async networkByName(host: NsIdentity | null, name: string): Promise<NetworkRecord | undefined> {
    const scope = scopeOf(host === null ? null : checkNs(host, 'host'))
    checkRecordName(name, 'name')
    return this.#read(() => {
      const r = this.#st('SELECT * FROM networks WHERE scope = ? AND name = ?').get(scope, name) as Row | undefined
      return r && networkOf(this.#stf, r)
    })
  }

  async networks(filter: { host?: NsIdentity | null } = {}): Promise<NetworkRecord[]> {
    const scope = filter.host === undefined ? undefined : scopeOf(filter.host === null ? null : checkNs(filter.host, 'filter.host'))
    return this.#read(() => {
      const rows = (
        scope === undefined
          ? this.#st('SELECT * FROM networks ORDER BY name, scope').all()
          : this.#st('SELECT * FROM networks WHERE scope = ? ORDER BY name').all(scope)
      ) as Row[]
      return rows.map((r) => networkOf(this.#stf, r))
    })
  }

  // --- endpoints ----------------------------------------------------------------------------

  async beginConnect(networkId: string, spec: EndpointSpec): Promise<ConnectResult> {
    checkId(networkId, 'networkId')
    const e = normaliseEndpointSpec(spec)
    const key = nsKey(e.ns)
    return this.#write('connect', () => {
      const net = this.#st('SELECT id, name, scope, state FROM networks WHERE id = ?').get(networkId) as Row | undefined
      if (!net) throw noNetwork(networkId)
      const netName = String(net.name)
      if (net.state !== 'ready')
        throw new StoreError('ERR_NETNS_KIT_NETWORK_NOT_READY', `the network '${netName}' is ${String(net.state)}`, { network: netName })
      const hostScope = e.host ? scopeOf(e.host) : String(net.scope)
      const ifname =
        e.ifname ?? autoIfname((n) => this.#st('SELECT 1 FROM endpoints WHERE ns_key = ? AND ifname = ?').get(key, n) !== undefined, e.ifnamesInUse)
      try {
        this.#st(
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
      for (const n of e.names) this.#st('INSERT INTO names (network_id, name_key, endpoint_id) VALUES (?, ?, ?)').run(networkId, n, e.id)
      for (const a of e.addresses) allocate(this.#stf, networkId, netName, a.family, a.ip, e.id, e.id)
      for (const p of e.ports) claimPort(this.#stf, hostScope, p, e.id)
      const moves: GatewayMove[] = []
      for (const a of e.addresses) moves.push(...takeGateway(this.#stf, e.id, key, a.family, e.gatewayPriority))
      return { endpoint: endpointById(this.#stf, e.id)!, moves }
    })
  }

  #heldEndpoint(id: string, state: string, owner: Owner): Row | undefined {
    const r = this.#st('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined
    if (!r) return undefined
    if (r.state !== state) throw wrongState(`the endpoint '${String(r.name)}'`, String(r.state), state)
    if (!sameOwner(ownerOf(r), owner)) throw notOwner(`the endpoint '${String(r.name)}'`, String(r.state))
    return r
  }

  async finishConnect(id: string, patch: FinishConnectPatch = {}, owner = currentOwner()): Promise<EndpointRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    const config = patch.config === undefined ? null : JSON.stringify(patch.config)
    return this.#write('finish connect', () => {
      const r = this.#heldEndpoint(id, 'connecting', owner)
      if (!r) throw noEndpoint(id)
      this.#st(`UPDATE endpoints SET state = 'connected', mac = coalesce(?, mac), config = coalesce(?, config) WHERE id = ?`).run(patch.mac ?? null, config, id)
      for (const rule of rules) addRule(this.#stf, rule, String(r.network_id), id)
      return endpointById(this.#stf, id)!
    })
  }

  #deleteEndpoint(r: Row): GatewayMove[] {
    const fams: Family[] = [...(r.gw4 === 1 ? [4 as const] : []), ...(r.gw6 === 1 ? [6 as const] : [])]
    this.#st('DELETE FROM endpoints WHERE id = ?').run(String(r.id))
    return handOver(this.#stf, String(r.ns_key), fams)
  }

  async abortConnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#write('abort connect', () => {
      const r = this.#heldEndpoint(id, 'connecting', owner)
      return r ? this.#deleteEndpoint(r) : []
    })
  }

  async beginDisconnect(id: string, owner = currentOwner()): Promise<DisconnectStart> {
    checkId(id, 'id')
    return this.#write('disconnect', (): DisconnectStart => {
      const r = this.#st('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined
      if (!r) return { status: 'absent' }
      const held = ownerOf(r)
      if (r.state !== 'connected' && !sameOwner(held, owner) && ownerState(held) !== 'dead') return { status: 'busy', endpoint: endpointOf(this.#stf, r) }
      this.#st(`UPDATE endpoints SET state = 'disconnecting', owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ?`).run(
        owner.pid,
        owner.start,
        owner.boot,
        id,
      )
      return { status: 'started', endpoint: endpointById(this.#stf, id)! }
    })
  }

  async finishDisconnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#write('finish disconnect', () => {
      const r = this.#heldEndpoint(id, 'disconnecting', owner)
      return r ? this.#deleteEndpoint(r) : []
    })
  }

  async addRules(o: RuleOwner, ruleIds: string[]): Promise<void> {
    checkId(o?.networkId, 'owner.networkId')
    if (o.endpointId !== undefined) checkId(o.endpointId, 'owner.endpointId')
    const ids = checkRules(ruleIds, 'ruleIds')
    await this.#write('add rules', () => {
      if (o.endpointId !== undefined) {
        if (!this.#st('SELECT 1 FROM endpoints WHERE id = ? AND network_id = ?').get(o.endpointId, o.networkId)) throw noEndpoint(o.endpointId)
      } else if (!this.#st('SELECT 1 FROM networks WHERE id = ?').get(o.networkId)) throw noNetwork(o.networkId)
      for (const r of ids) addRule(this.#stf, r, o.networkId, o.endpointId ?? null)
    })
  }

  async ruleOwner(ruleId: string): Promise<RuleOwner | undefined> {
    checkRules([ruleId], 'ruleId')
    return this.#read(() => {
      const r = this.#st('SELECT network_id, endpoint_id FROM rules WHERE rule_id = ?').get(ruleId) as Row | undefined
      return r && { networkId: String(r.network_id), ...(r.endpoint_id !== null ? { endpointId: String(r.endpoint_id) } : {}) }
    })
  }

  async endpoint(id: string): Promise<EndpointRecord | undefined> {
    checkId(id, 'id')
    return this.#read(() => endpointById(this.#stf, id))
  }

  async #endpointWhere(sql: string, ...args: unknown[]): Promise<EndpointRecord | undefined> {
    return this.#read(() => {
      const r = this.#st(sql).get(...args) as Row | undefined
      return r && endpointOf(this.#stf, r)
    })
  }

  async endpointByName(networkId: string, name: string): Promise<EndpointRecord | undefined> {
    return this.#endpointWhere(
      'SELECT * FROM endpoints WHERE network_id = ? AND name_key = ?',
      checkId(networkId, 'networkId'),
      nameKey(checkRecordName(name, 'name')),
    )
  }

  async endpointByContainer(networkId: string, containerId: string, ifname: string): Promise<EndpointRecord | undefined> {
    if (typeof containerId !== 'string' || typeof ifname !== 'string')
      throw invalidArg('containerId', containerId, 'and ifname must be strings', 'ERR_INVALID_ARG_TYPE')
    return this.#endpointWhere(
      'SELECT * FROM endpoints WHERE network_id = ? AND container_id = ? AND ifname = ?',
      checkId(networkId, 'networkId'),
      containerId,
      ifname,
    )
  }

  async endpointByHostIf(host: NsIdentity | null, hostIf: string): Promise<EndpointRecord | undefined> {
    if (typeof hostIf !== 'string') throw invalidArg('hostIf', hostIf, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    return this.#endpointWhere('SELECT * FROM endpoints WHERE host_scope = ? AND host_if = ?', scopeOf(host === null ? null : checkNs(host, 'host')), hostIf)
  }

  async endpointByAddress(networkId: string, address: string): Promise<EndpointRecord | undefined> {
    const ip = parseIp(address, 'address')
    return this.#endpointWhere(
      `SELECT e.* FROM allocations a JOIN endpoints e ON e.id = a.endpoint_id WHERE a.network_id = ? AND a.family = ? AND a.key = ?`,
      checkId(networkId, 'networkId'),
      ip.family,
      hexOf(ip.value),
    )
  }

  async endpointsInNamespace(ns: NsIdentity): Promise<EndpointRecord[]> {
    const key = nsKey(checkNs(ns, 'ns'))
    return this.#read(() => (this.#st('SELECT * FROM endpoints WHERE ns_key = ? ORDER BY rowid').all(key) as Row[]).map((r) => endpointOf(this.#stf, r)))
  }

  async endpoints(networkId: string): Promise<EndpointRecord[]> {
    checkId(networkId, 'networkId')
    return this.#read(() =>
      (this.#st('SELECT * FROM endpoints WHERE network_id = ? ORDER BY name_key').all(networkId) as Row[]).map((r) => endpointOf(this.#stf, r)),
    )
  }

  async resolve(networkId: string, name: string): Promise<EndpointRecord[]> {
    checkId(networkId, 'networkId')
    const k = nameKey(checkRecordName(name, 'name'))
    return this.#read(() =>
      (
        this.#st(
          `SELECT e.* FROM names n JOIN endpoints e ON e.id = n.endpoint_id
      WHERE n.network_id = ? AND n.name_key = ? AND e.state = 'connected' ORDER BY e.rowid`,
        ).all(networkId, k) as Row[]
      ).map((r) => endpointOf(this.#stf, r)),
    )
  }

  // --- intents ------------------------------------------------------------------------------

  async intents(): Promise<Intent[]> {
    return this.#read(() => {
      const out: Intent[] = []
      for (const r of this.#st(`SELECT * FROM networks WHERE state <> 'ready'`).all() as Row[]) {
        const owner = ownerOf(r)
        out.push({
          kind: 'network',
          id: String(r.id),
          networkId: String(r.id),
          state: r.state as Intent['state'],
          owner,
          ownerState: ownerState(owner),
          network: networkOf(this.#stf, r),
        })
      }
      for (const r of this.#st(`SELECT * FROM endpoints WHERE state <> 'connected'`).all() as Row[]) {
        const owner = ownerOf(r)
        out.push({
          kind: 'endpoint',
          id: String(r.id),
          networkId: String(r.network_id),
          state: r.state as Intent['state'],
          owner,
          ownerState: ownerState(owner),
          endpoint: endpointOf(this.#stf, r),
        })
      }
      return out
    })
  }

  async orphans(): Promise<Intent[]> {
    return (await this.intents()).filter((i) => i.ownerState === 'dead')
  }

  async takeOver(kind: 'network' | 'endpoint', id: string, from: Owner, owner = currentOwner()): Promise<boolean> {
    checkId(id, 'id')
    if (kind !== 'network' && kind !== 'endpoint') throw invalidArg('kind', kind, "must be 'network' or 'endpoint'")
    const sql =
      kind === 'network'
        ? `UPDATE networks SET owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ? AND state <> 'ready' AND owner_pid = ? AND owner_start = ? AND owner_boot = ?`
        : `UPDATE endpoints SET owner_pid = ?, owner_start = ?, owner_boot = ? WHERE id = ? AND state <> 'connected' AND owner_pid = ? AND owner_start = ? AND owner_boot = ?`
    return this.#write('take over', () => this.#st(sql).run(owner.pid, owner.start, owner.boot, id, from.pid, from.start, from.boot).changes === 1)
  }

  // --- changes ------------------------------------------------------------------------------

  /** Keeps the last 20,000 changes; readers further behind are told to start again. */
  #trim(): void {
    this.#db!.transaction(() => {
      const max = Number(this.#st(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).pluck().get() ?? 0)
      const floor = max - 20000
      if (floor <= 0) return
      this.#st('DELETE FROM changes WHERE seq <= ?').run(floor)
      this.#st(`INSERT INTO meta (key, value) VALUES ('changes_floor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(floor))
    }).immediate()
  }

  #seq(): number {
    return Number(this.#st(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).pluck().get() ?? 0)
  }

  async sequence(): Promise<number> {
    return this.#read(() => this.#seq())
  }

  async changesSince(seq: number): Promise<ChangeBatch> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw invalidArg('seq', seq, 'must be an integer >= 0')
    return this.#read(() => {
      const now = this.#seq()
      const floor = Number(this.#st(`SELECT value FROM meta WHERE key = 'changes_floor'`).pluck().get() ?? 0)
      if (seq < floor) return { seq: now, changes: [], reset: true }
      const rows = this.#st(`SELECT kind, id, network_id, max(seq) AS seq FROM changes WHERE seq > ? GROUP BY kind, id ORDER BY 4`).all(seq) as Row[]
      const changes: Change[] = rows.map((r) => {
        const c: Change = { seq: Number(r.seq), kind: r.kind as Change['kind'], id: String(r.id), networkId: String(r.network_id) }
        if (c.kind === 'network') c.network = networkById(this.#stf, c.id)
        else c.endpoint = endpointById(this.#stf, c.id)
        return c
      })
      return { seq: Math.max(now, seq), changes, reset: false }
    })
  }

  onChange(listener: () => void): () => void {
    if (typeof listener !== 'function') throw invalidArg('listener', listener, 'must be a function', 'ERR_INVALID_ARG_TYPE')
    return this.#watcher.add(listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watcher.close()
    await this.#opening?.catch(() => {})
    this.#stmts.clear()
    this.#db?.close()
    this.#db = undefined
  }

  // --- import of a 0.1 FileStore ------------------------------------------------------------

  async #import(dir: string): Promise<void> {
    let data: FileStoreImport | undefined
    try {
      data = await readFileStore(dir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
      throw e
    }
    if (!data) return
    const db = this.#db!
    const counts = await this.#retry('import', () => db.transaction(() => importRecords(data!, (sql) => this.#st(sql))).immediate())
    // Renamed aside after the commit (a crash in between: the next open sees the marker and only renames).
    const aside = `${dir}.imported-${Date.now()}`
    try {
      await fs.promises.rename(dir, aside)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    if (counts) this.imported = { ...counts, renamedTo: aside }
  }
}
