// The default NetworkStore: one SQLite database (better-sqlite3, WAL) under /run/netns-kit,
// shared by every process of the host. Transactions are short and synchronous; a lock held by
// another process is never waited for on the event loop: BEGIN IMMEDIATE fails at once
// (busy_timeout 0) and is retried after a jittered, asynchronous backoff.
import * as path from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { NetnsKitError, invalidArg } from '../errors'
import { turn } from '../turn'
import { parseIp } from './ip'
import { currentOwner, type Owner } from './owner'
import {
  type ChangeBatch,
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
  type RemoveStart,
  type RuleOwner,
} from './network-store'
import {
  checkId,
  checkNs,
  checkRecordName,
  checkRules,
  hexOf,
  nameKey,
  noEndpoint,
  noNetwork,
  normaliseEndpointSpec,
  normaliseNetworkSpec,
  nsKey,
  scopeOf,
} from './store-logic'
import { ChangeWatcher } from './sqlite-watch'
import { addRule } from './sqlite-claims'
import { endpointById, endpointOf, networkById, networkOf, type Row, type St } from './sqlite-rows'
import { createNetworkTx, finishRemoveTx, heldNetwork, removeNetworkTx } from './sqlite-store-networks'
import { importFileStoreInto, openDatabase, retryBusy, type Db } from './sqlite-store-open'
import { changesTx, connectTx, deleteEndpoint, disconnectTx, heldEndpoint, intentsTx, seqOf } from './sqlite-store-endpoints'

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
  /** Set by close() once the calls in flight have finished, right before the database closes. */
  #shut = false
  /** The steps started (waiting for their turn, or running): close() lets them finish first. */
  readonly #inflight = new Set<Promise<unknown>>()
  /** What the last changesSince() read saw: while no connection has committed since, the feed has nothing new. */
  #feed: { db: Db; dataVersion: number; commits: number; seq: number } | undefined

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
    if (this.#closed) return Promise.reject(closedError(this.path))
    if (this.#db) return Promise.resolve(this.#db)
    this.#opening ??= this.#doOpen().finally(() => {
      this.#opening = undefined
    })
    return this.#opening
  }

  async #doOpen(): Promise<Db> {
    const db = await openDatabase(this.path, (what, fn) => this.#retry(what, fn))
    this.#db = db
    try {
      if (this.importDir) await this.#import(this.importDir)
      // The import commits on this connection but not through #write: counted, so a changesSince()
      // that read the empty database meanwhile does not answer "nothing new" from PRAGMA data_version.
      this.#commits++
    } catch (e) {
      // Not opened until the import went through: the next call tries again.
      this.#db = undefined
      this.#stmts.clear()
      db.close()
      throw e
    }
    return db
  }

  /**
   * Runs a synchronous step in a turn of the event loop of its own (lib/turn.ts: not appended to
   * whatever continuation called it), retrying it asynchronously while another process holds the lock.
   */
  async #retry<T>(what: string, fn: () => T): Promise<T> {
    const step = (async () => {
      await turn()
      // close() waits for the steps in flight, so only a step started after it finished gets here.
      if (this.#shut) throw closedError(this.path)
      return retryBusy(this.stats, this.busyTimeoutMs, what, fn)
    })()
    this.#inflight.add(step)
    try {
      return await step
    } finally {
      this.#inflight.delete(step)
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
    // Counted in the same synchronous step as the commit: changesSince() compares the count, and
    // a call of it running between the commit and a later count would miss this commit.
    let n = 0
    const r = await this.#retry(what, () => {
      const out = tx.immediate()
      n = ++this.#commits
      return out
    })
    // Housekeeping: a trim that fails (the store closing meanwhile, a busy lock) is tried again 1,024 commits later.
    if (n % 1024 === 0) await this.#retry('trim', () => this.#trim()).catch(() => {})
    this.#watcher.notify()
    return r
  }

  /** A consistent read (a deferred transaction: WAL readers never wait for writers); `opened`: the database a caller already has. */
  async #read<T>(fn: () => T, opened?: Db): Promise<T> {
    const db = opened ?? (await this.#open())
    const tx = db.transaction(fn)
    return this.#retry('read', () => tx.deferred())
  }

  // --- rows to records ----------------------------------------------------------------------

  // --- networks -----------------------------------------------------------------------------

  /**
   * Records a network `creating`: its name and subnets (checked for overlap, or chosen) are claimed.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad spec (name, driver, subnet, gateway, ip range, pools).
   * @throws {StoreError} (a NetnsKitError) `ERR_NETNS_KIT_NETWORK_EXISTS` for a name or id in use; `ERR_NETNS_KIT_SUBNET_OVERLAP` for a subnet overlapping another network's; `ERR_NETNS_KIT_POOL_EXHAUSTED` when no candidate subnet is free; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async beginCreateNetwork(spec: CreateNetworkSpec): Promise<NetworkRecord> {
    const n = normaliseNetworkSpec(spec)
    const scope = scopeOf(n.host)
    return this.#write('create network', () => createNetworkTx(this.#stf, n, scope))
  }

  /**
   * `creating` -> `ready`, with the rules made and the final config.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` when it is gone; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async finishCreateNetwork(id: string, patch: { rules?: string[]; config?: Record<string, unknown> } = {}, owner = currentOwner()): Promise<NetworkRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    const config = patch.config === undefined ? undefined : JSON.stringify(patch.config)
    return this.#write('finish create', () => {
      if (!heldNetwork(this.#stf, id, 'creating', owner)) throw noNetwork(id)
      this.#st(`UPDATE networks SET state = 'ready', config = coalesce(?, config) WHERE id = ?`).run(config ?? null, id)
      for (const r of rules) addRule(this.#stf, r, id, null)
      return networkById(this.#stf, id)!
    })
  }

  /**
   * Forgets a network still `creating` (its kernel objects undone). Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (a network already gone is not an error); `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async abortCreateNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#write('abort create', () => {
      if (heldNetwork(this.#stf, id, 'creating', owner)) this.#st('DELETE FROM networks WHERE id = ?').run(id)
    })
  }

  /**
   * -> `removing`; ERR_NETNS_KIT_NETWORK_IN_USE with endpoints unless `force`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` when there is none; `ERR_NETNS_KIT_NETWORK_IN_USE` with endpoints (unless `force`); `ERR_NETNS_KIT_NETWORK_BUSY` while another live process creates or removes it; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async beginRemoveNetwork(id: string, opts: { force?: boolean; owner?: Owner } = {}): Promise<RemoveStart> {
    checkId(id, 'id')
    const owner = opts.owner ?? currentOwner()
    return this.#write('remove network', () => removeNetworkTx(this.#stf, id, opts.force, owner))
  }

  /**
   * `removing` -> gone (with its pools, allocations, rules); ERR_NETNS_KIT_NETWORK_IN_USE while endpoints remain. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_NETWORK_IN_USE` while endpoints remain; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async finishRemoveNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#write('finish remove', () => finishRemoveTx(this.#stf, id, owner))
  }

  /**
   * The network with this id, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()); none is undefined, not an error.
   */
  async network(id: string): Promise<NetworkRecord | undefined> {
    checkId(id, 'id')
    return this.#read(() => networkById(this.#stf, id))
  }

  /**
   * The network named `name` in the host namespace `host` (null: the scope of every host, as overlay networks), or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `host` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async networkByName(host: NsIdentity | null, name: string): Promise<NetworkRecord | undefined> {
    const scope = scopeOf(host === null ? null : checkNs(host, 'host'))
    checkRecordName(name, 'name')
    return this.#read(() => {
      const r = this.#st('SELECT * FROM networks WHERE scope = ? AND name = ?').get(scope, name) as Row | undefined
      return r && networkOf(this.#stf, r)
    })
  }

  /**
   * Every network (of one host namespace when given). Not a hot path.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `filter.host` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
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

  /**
   * One transaction: the endpoint `connecting` (name, ifname, CNI key, host interface claimed),
   * its addresses allocated (cursor order), its host ports claimed, its names indexed, and the
   * container's default route given to it when its priority is the highest.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad spec (id, name, namespace identity, ifname, MAC, addresses, ports).
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK`, `ERR_NETNS_KIT_NETWORK_NOT_READY` (creating or removing); `ERR_NETNS_KIT_ENDPOINT_EXISTS` (id, name, or container and ifname taken); `ERR_NETNS_KIT_IFNAME_IN_USE` (the interface or host interface is another endpoint's); `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED` (addresses); `ERR_NETNS_KIT_PORT_ALLOCATED`, `ERR_NETNS_KIT_NO_FREE_PORT` (host ports); `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()). Nothing is recorded then.
   */
  async beginConnect(networkId: string, spec: EndpointSpec): Promise<ConnectResult> {
    checkId(networkId, 'networkId')
    const e = normaliseEndpointSpec(spec)
    const key = nsKey(e.ns)
    return this.#write('connect', () => connectTx(this.#stf, networkId, e, key))
  }

  /**
   * `connecting` -> `connected`, with the rules made.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_ENDPOINT` when it is gone; `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async finishConnect(id: string, patch: FinishConnectPatch = {}, owner = currentOwner()): Promise<EndpointRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    const config = patch.config === undefined ? null : JSON.stringify(patch.config)
    return this.#write('finish connect', () => {
      const r = heldEndpoint(this.#stf, id, 'connecting', owner)
      if (!r) throw noEndpoint(id)
      this.#st(`UPDATE endpoints SET state = 'connected', mac = coalesce(?, mac), config = coalesce(?, config) WHERE id = ?`).run(patch.mac ?? null, config, id)
      for (const rule of rules) addRule(this.#stf, rule, String(r.network_id), id)
      return endpointById(this.#stf, id)!
    })
  }

  /**
   * Forgets an endpoint still `connecting` (addresses and ports released); returns the default-route moves. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (an endpoint already gone is not an error); `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async abortConnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#write('abort connect', () => {
      const r = heldEndpoint(this.#stf, id, 'connecting', owner)
      return r ? deleteEndpoint(this.#stf, r) : []
    })
  }

  /**
   * -> `disconnecting` under this owner (taking over from a dead owner).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()). An endpoint gone is `{ status: 'absent' }`, one a live process holds `{ status: 'busy' }`, not errors.
   */
  async beginDisconnect(id: string, owner = currentOwner()): Promise<DisconnectStart> {
    checkId(id, 'id')
    return this.#write('disconnect', (): DisconnectStart => disconnectTx(this.#stf, id, owner))
  }

  /**
   * -> gone (addresses, ports, names, rules with it); returns the default-route moves. Idempotent.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {StoreError} `ERR_NETNS_KIT_WRONG_STATE` when the record is in another state, `ERR_NETNS_KIT_NOT_OWNER` when another process holds it (an endpoint already gone is not an error); `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async finishDisconnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#write('finish disconnect', () => {
      const r = heldEndpoint(this.#stf, id, 'disconnecting', owner)
      return r ? deleteEndpoint(this.#stf, r) : []
    })
  }

  /**
   * Records rule ids as soon as the kernel made them (so a crash before finish* leaves them findable).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or rules that are not rule ids.
   * @throws {StoreError} `ERR_NETNS_KIT_NO_NETWORK` or `ERR_NETNS_KIT_NO_ENDPOINT` when the owner is gone; `ERR_NETNS_KIT_RULE_OWNED` for a rule recorded by another owner; `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
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

  /**
   * The network or endpoint a rule id was recorded for, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a rule id that is not one.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async ruleOwner(ruleId: string): Promise<RuleOwner | undefined> {
    checkRules([ruleId], 'ruleId')
    return this.#read(() => {
      const r = this.#st('SELECT network_id, endpoint_id FROM rules WHERE rule_id = ?').get(ruleId) as Row | undefined
      return r && { networkId: String(r.network_id), ...(r.endpoint_id !== null ? { endpointId: String(r.endpoint_id) } : {}) }
    })
  }

  /**
   * The endpoint with this id, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()); none is undefined, not an error.
   */
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

  /**
   * The endpoint named `name` in the network, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or a bad name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async endpointByName(networkId: string, name: string): Promise<EndpointRecord | undefined> {
    return this.#endpointWhere(
      'SELECT * FROM endpoints WHERE network_id = ? AND name_key = ?',
      checkId(networkId, 'networkId'),
      nameKey(checkRecordName(name, 'name')),
    )
  }

  /**
   * The endpoint of a CNI container id and interface name (CNI's key), or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id, or a containerId or ifname that is not a string.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
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

  /**
   * The endpoint whose host interface is `hostIf` in the host namespace `host` (the companion's link-deletion events).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for a `host` that is not a namespace identity or a `hostIf` that is not a string.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async endpointByHostIf(host: NsIdentity | null, hostIf: string): Promise<EndpointRecord | undefined> {
    if (typeof hostIf !== 'string') throw invalidArg('hostIf', hostIf, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    return this.#endpointWhere('SELECT * FROM endpoints WHERE host_scope = ? AND host_if = ?', scopeOf(host === null ? null : checkNs(host, 'host')), hostIf)
  }

  /**
   * The endpoint holding `address` in the network, or undefined.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or an address that is not IPv4 or IPv6.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async endpointByAddress(networkId: string, address: string): Promise<EndpointRecord | undefined> {
    const ip = parseIp(address, 'address')
    return this.#endpointWhere(
      `SELECT e.* FROM allocations a JOIN endpoints e ON e.id = a.endpoint_id WHERE a.network_id = ? AND a.family = ? AND a.key = ?`,
      checkId(networkId, 'networkId'),
      ip.family,
      hexOf(ip.value),
    )
  }

  /**
   * The endpoints of a container (several networks).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an `ns` that is not a namespace identity.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async endpointsInNamespace(ns: NsIdentity): Promise<EndpointRecord[]> {
    const key = nsKey(checkNs(ns, 'ns'))
    return this.#read(() => (this.#st('SELECT * FROM endpoints WHERE ns_key = ? ORDER BY rowid').all(key) as Row[]).map((r) => endpointOf(this.#stf, r)))
  }

  /**
   * Every endpoint of a network. Not a hot path.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async endpoints(networkId: string): Promise<EndpointRecord[]> {
    checkId(networkId, 'networkId')
    return this.#read(() =>
      (this.#st('SELECT * FROM endpoints WHERE network_id = ? ORDER BY name_key').all(networkId) as Row[]).map((r) => endpointOf(this.#stf, r)),
    )
  }

  /**
   * Connected endpoints answering to `name` (name, alias or hostname, case-insensitive) in the network.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id or a bad name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
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

  /**
   * Every record in an intermediate state (an index, not a scan of all records).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async intents(): Promise<Intent[]> {
    return this.#read(() => intentsTx(this.#stf))
  }

  /**
   * The intents whose owner is dead (gc's work list); never those of live or foreign owners.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async orphans(): Promise<Intent[]> {
    return (await this.intents()).filter((i) => i.ownerState === 'dead')
  }

  /**
   * Makes `owner` (default this process) the owner of an intent if `from` still holds it; false when someone else took it or it is gone.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE` for an id that is not a record id, or a `kind` other than 'network' or 'endpoint'.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()). A record gone, settled or held by another owner is `false`, not an error.
   */
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

  /**
   * The current sequence number.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()).
   */
  async sequence(): Promise<number> {
    return this.#read(() => seqOf(this.#stf))
  }

  /**
   * The records changed after `seq` (0: from the start). When no connection has committed since
   * this store's last read of the feed and `seq` is at least what that read returned, the answer
   * (nothing new) comes from `PRAGMA data_version`, without a transaction.
   * @throws {TypeError} `ERR_INVALID_ARG_VALUE` for a `seq` that is not an integer >= 0.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE` (the database cannot be opened: its directory is not one, or its schema version is another), `ERR_NETNS_KIT_STORE_BUSY` (other processes held the database lock past `busyTimeoutMs`, 10 s by default) or `ERR_NETNS_KIT_CLOSED` (after close()). A `seq` older than the kept log is `reset: true`, not an error.
   */
  async changesSince(seq: number): Promise<ChangeBatch> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw invalidArg('seq', seq, 'must be an integer >= 0')
    const db = await this.#open()
    // Nothing committed by any connection since the last read (PRAGMA data_version: other
    // connections' commits; #commits: ours) and the caller has seen it all: no read at all.
    // A follower (the companion) asks after every commit it is told of and at every request:
    // most of its calls found nothing new.
    const f = this.#feed
    // undefined when it cannot be read (a busy database being recovered): then the feed is read.
    const version = (): number | undefined => {
      try {
        return Number(this.#st('PRAGMA data_version').pluck().get())
      } catch {
        return undefined
      }
    }
    if (f && f.db === db && f.commits === this.#commits && seq >= f.seq && version() === f.dataVersion) return { seq, changes: [], reset: false }
    // Read before the transaction: a commit in between is in the batch, and the next call reads again.
    const dataVersion = version()
    const mark = { db, dataVersion, commits: this.#commits }
    const b = await this.#read(() => changesTx(this.#stf, seq), db)
    this.#feed = dataVersion === undefined ? undefined : { ...mark, dataVersion, seq: b.seq }
    return b
  }

  /**
   * Called (coalesced) soon after any process changed the store: within 100 ms. Returns the unsubscriber.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `listener` is not a function.
   */
  onChange(listener: () => void): () => void {
    if (typeof listener !== 'function') throw invalidArg('listener', listener, 'must be a function', 'ERR_INVALID_ARG_TYPE')
    return this.#watcher.add(listener)
  }

  /**
   * Closes the database and stops the change watcher once the calls in flight have finished; the store refuses calls made afterwards (`ERR_NETNS_KIT_CLOSED`).
   * @throws Nothing: closing twice is allowed.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watcher.close()
    await this.#opening?.catch(() => {})
    // The calls already in flight finish (as before close() was called); later steps are refused.
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight])
    this.#shut = true
    this.#stmts.clear()
    this.#feed = undefined
    this.#db?.close()
    this.#db = undefined
  }

  // --- import of a 0.1 FileStore ------------------------------------------------------------

  async #import(dir: string): Promise<void> {
    const r = await importFileStoreInto(
      dir,
      this.#db!,
      (what, fn) => this.#retry(what, fn),
      (sql) => this.#st(sql),
    )
    if (r) this.imported = r
  }
}

function closedError(file: string): NetnsKitError {
  return new NetnsKitError('ERR_NETNS_KIT_CLOSED', `the store ${file} is closed`)
}
