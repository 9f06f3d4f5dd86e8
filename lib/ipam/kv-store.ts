// The NetworkStore contract over a KvBackend (memory, etcd): the same records, intents and
// uniqueness as the SQLite schema, written as optimistic transactions. Uniqueness is a key per
// claimed thing (a name, an address, an interface, a host port) created in the same transaction
// as the record, under a compare that nobody wrote it since the transaction began.
import { invalidArg } from '../errors'
import { parseIp } from './ip'
import { KvTx, prefixEnd, transact, type KvBackend } from './kv'
import { currentOwner, ownerState, sameOwner, type Owner } from './owner'
import {
  StoreError,
  type Change,
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
import { K, logChange, publicEndpoint, publicNetwork, type EndpointDoc, type LogEntry, type NetworkDoc } from './kv-store-keys'
import { addRule, createNetworkTx, deleteNetwork, heldNetwork, removeNetworkTx } from './kv-store-networks'
import { connectTx, deleteEndpoint, heldEndpoint } from './kv-store-endpoints'

export interface KvNetworkStoreOptions {
  /** Prefixes namespace keys in a store shared by hosts (device and inode numbers repeat across hosts). */
  hostId?: string
  /** How long a transaction retries under contention before ERR_NETNS_KIT_STORE_BUSY (ms, default 10000). */
  busyTimeoutMs?: number
}

/** NetworkStore over a KvBackend; see MemoryNetworkStore and EtcdNetworkStore. */
export class KvNetworkStore implements NetworkStore {
  readonly #be: KvBackend
  readonly #host: string
  readonly #timeout: number
  #commits = 0

  constructor(be: KvBackend, opts: KvNetworkStoreOptions = {}) {
    this.#be = be
    const h = opts.hostId ?? ''
    if (typeof h !== 'string' || h.length > 64 || /[\0-\x20/:]/.test(h))
      throw invalidArg('opts.hostId', h, "must be at most 64 printable characters without '/' or ':'")
    this.#host = h ? `${h}@` : ''
    const t = opts.busyTimeoutMs ?? 10000
    if (typeof t !== 'number' || !(t >= 0)) throw invalidArg('opts.busyTimeoutMs', t, 'must be a number of milliseconds >= 0')
    this.#timeout = t
  }

  async #tx<T>(what: string, fn: (tx: KvTx) => Promise<T>): Promise<T> {
    const { result } = await transact(this.#be, what, this.#timeout, fn)
    if (++this.#commits % 256 === 0) await this.#trimLog().catch(() => {})
    return result
  }

  #scope(host: NsIdentity | null): string {
    return scopeOf(host, this.#host)
  }
  #ns(ns: NsIdentity): string {
    return nsKey(ns, this.#host)
  }

  // --- networks -----------------------------------------------------------------------------

  async beginCreateNetwork(spec: CreateNetworkSpec): Promise<NetworkRecord> {
    const n = normaliseNetworkSpec(spec)
    const scope = this.#scope(n.host)
    return this.#tx('create network', (tx) => createNetworkTx(tx, n, scope))
  }

  async finishCreateNetwork(id: string, patch: { rules?: string[]; config?: Record<string, unknown> } = {}, owner = currentOwner()): Promise<NetworkRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    return this.#tx('finish create', async (tx) => {
      const d = await heldNetwork(tx, id, 'creating', owner)
      if (!d) throw noNetwork(id)
      for (const r of rules) if (await addRule(tx, r, { networkId: id })) d.rules.push(r)
      d.state = 'ready'
      if (patch.config !== undefined) d.config = JSON.parse(JSON.stringify(patch.config)) as Record<string, unknown>
      tx.put(K.net(id), d)
      tx.del(K.intent('network', id))
      logChange(tx, 'network', id, id)
      return publicNetwork(d)
    })
  }

  async abortCreateNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#tx('abort create', async (tx) => {
      const d = await heldNetwork(tx, id, 'creating', owner)
      if (d) await deleteNetwork(tx, d)
    })
  }

  async beginRemoveNetwork(id: string, opts: { force?: boolean; owner?: Owner } = {}): Promise<RemoveStart> {
    checkId(id, 'id')
    const owner = opts.owner ?? currentOwner()
    return this.#tx('remove network', (tx) => removeNetworkTx(tx, id, opts.force, owner))
  }

  async finishRemoveNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#tx('finish remove', async (tx) => {
      const d = await heldNetwork(tx, id, 'removing', owner)
      if (!d) return
      if ((await tx.list(K.netEps(id))).length)
        throw new StoreError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${d.name}' still has endpoints`, { network: d.name })
      await deleteNetwork(tx, d)
    })
  }

  async network(id: string): Promise<NetworkRecord | undefined> {
    checkId(id, 'id')
    const d = (await this.#be.get(K.net(id))).item
    return d && publicNetwork(JSON.parse(d.value) as NetworkDoc)
  }

  async networkByName(host: NsIdentity | null, name: string): Promise<NetworkRecord | undefined> {
    const scope = this.#scope(host === null ? null : checkNs(host, 'host'))
    checkRecordName(name, 'name')
    return this.#tx('read', async (tx) => {
      const id = await tx.get<string>(K.netName(scope, name))
      const d = id === undefined ? undefined : await tx.get<NetworkDoc>(K.net(id))
      return d && publicNetwork(d)
    })
  }

  async networks(filter: { host?: NsIdentity | null } = {}): Promise<NetworkRecord[]> {
    const scope = filter.host === undefined ? undefined : this.#scope(filter.host === null ? null : checkNs(filter.host, 'filter.host'))
    const { items } = await this.#be.range('n/', prefixEnd('n/'))
    return items
      .map((i) => JSON.parse(i.value) as NetworkDoc)
      .filter((d) => scope === undefined || d.scope === scope)
      .sort((a, b) => a.name.localeCompare(b.name) || a.scope.localeCompare(b.scope))
      .map(publicNetwork)
  }

  // --- endpoints ----------------------------------------------------------------------------

  async beginConnect(networkId: string, spec: EndpointSpec): Promise<ConnectResult> {
    checkId(networkId, 'networkId')
    const e = normaliseEndpointSpec(spec)
    const nk = this.#ns(e.ns)
    return this.#tx('connect', (tx) => connectTx(tx, networkId, e, nk, this.#host))
  }

  async finishConnect(id: string, patch: FinishConnectPatch = {}, owner = currentOwner()): Promise<EndpointRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    return this.#tx('finish connect', async (tx) => {
      const d = await heldEndpoint(tx, id, 'connecting', owner)
      if (!d) throw noEndpoint(id)
      for (const r of rules) if (await addRule(tx, r, { networkId: d.networkId, endpointId: id })) d.rules.push(r)
      d.state = 'connected'
      if (patch.mac !== undefined) d.mac = patch.mac
      if (patch.config !== undefined) d.config = JSON.parse(JSON.stringify(patch.config)) as Record<string, unknown>
      tx.put(K.ep(id), d)
      tx.del(K.intent('endpoint', id))
      logChange(tx, 'endpoint', id, d.networkId)
      return publicEndpoint(d)
    })
  }

  async abortConnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#tx('abort connect', async (tx) => {
      const d = await heldEndpoint(tx, id, 'connecting', owner)
      return d ? deleteEndpoint(tx, d) : []
    })
  }

  async beginDisconnect(id: string, owner = currentOwner()): Promise<DisconnectStart> {
    checkId(id, 'id')
    return this.#tx('disconnect', async (tx): Promise<DisconnectStart> => {
      const d = await tx.get<EndpointDoc>(K.ep(id))
      if (!d) return { status: 'absent' }
      if (d.state !== 'connected' && !sameOwner(d.owner, owner) && ownerState(d.owner) !== 'dead') return { status: 'busy', endpoint: publicEndpoint(d) }
      d.state = 'disconnecting'
      d.owner = owner
      tx.put(K.ep(id), d)
      tx.put(K.intent('endpoint', id), '')
      logChange(tx, 'endpoint', id, d.networkId)
      return { status: 'started', endpoint: publicEndpoint(d) }
    })
  }

  async finishDisconnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#tx('finish disconnect', async (tx) => {
      const d = await heldEndpoint(tx, id, 'disconnecting', owner)
      return d ? deleteEndpoint(tx, d) : []
    })
  }

  async addRules(o: RuleOwner, ruleIds: string[]): Promise<void> {
    checkId(o?.networkId, 'owner.networkId')
    if (o.endpointId !== undefined) checkId(o.endpointId, 'owner.endpointId')
    const ids = checkRules(ruleIds, 'ruleIds')
    await this.#tx('add rules', async (tx) => {
      if (o.endpointId !== undefined) {
        const d = await tx.get<EndpointDoc>(K.ep(o.endpointId))
        if (!d || d.networkId !== o.networkId) throw noEndpoint(o.endpointId)
        for (const r of ids) if (await addRule(tx, r, { networkId: o.networkId, endpointId: o.endpointId })) d.rules.push(r)
        tx.put(K.ep(d.id), d)
        logChange(tx, 'endpoint', d.id, d.networkId)
      } else {
        const d = await tx.get<NetworkDoc>(K.net(o.networkId))
        if (!d) throw noNetwork(o.networkId)
        for (const r of ids) if (await addRule(tx, r, { networkId: o.networkId })) d.rules.push(r)
        tx.put(K.net(d.id), d)
        logChange(tx, 'network', d.id, d.id)
      }
    })
  }

  async ruleOwner(ruleId: string): Promise<RuleOwner | undefined> {
    checkRules([ruleId], 'ruleId')
    const i = (await this.#be.get(K.rule(ruleId))).item
    return i && (JSON.parse(i.value) as RuleOwner)
  }

  async #epBy(indexKey: string, check?: (d: EndpointDoc) => boolean): Promise<EndpointRecord | undefined> {
    return this.#tx('read', async (tx) => {
      const id = await tx.get<string | { endpointId?: string }>(indexKey)
      const eid = typeof id === 'string' ? id : id?.endpointId
      const d = eid === undefined ? undefined : await tx.get<EndpointDoc>(K.ep(eid))
      return d && (!check || check(d)) ? publicEndpoint(d) : undefined
    })
  }

  async endpoint(id: string): Promise<EndpointRecord | undefined> {
    checkId(id, 'id')
    const i = (await this.#be.get(K.ep(id))).item
    return i && publicEndpoint(JSON.parse(i.value) as EndpointDoc)
  }

  async endpointByName(networkId: string, name: string): Promise<EndpointRecord | undefined> {
    return this.#epBy(K.epName(checkId(networkId, 'networkId'), nameKey(checkRecordName(name, 'name'))))
  }

  async endpointByContainer(networkId: string, containerId: string, ifname: string): Promise<EndpointRecord | undefined> {
    if (typeof containerId !== 'string' || typeof ifname !== 'string')
      throw invalidArg('containerId', containerId, 'and ifname must be strings', 'ERR_INVALID_ARG_TYPE')
    return this.#epBy(K.cni(checkId(networkId, 'networkId'), containerId, ifname))
  }

  async endpointByHostIf(host: NsIdentity | null, hostIf: string): Promise<EndpointRecord | undefined> {
    if (typeof hostIf !== 'string') throw invalidArg('hostIf', hostIf, 'must be a string', 'ERR_INVALID_ARG_TYPE')
    return this.#epBy(K.hostIf(this.#scope(host === null ? null : checkNs(host, 'host')), hostIf))
  }

  async endpointByAddress(networkId: string, address: string): Promise<EndpointRecord | undefined> {
    const ip = parseIp(address, 'address')
    return this.#epBy(K.addr(checkId(networkId, 'networkId'), ip.family, hexOf(ip.value)))
  }

  async #epsUnder(prefix: string): Promise<EndpointDoc[]> {
    return this.#tx('read', async (tx) => {
      const out: EndpointDoc[] = []
      for (const x of await tx.list(prefix)) {
        const d = await tx.get<EndpointDoc>(K.ep(decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1))))
        if (d) out.push(d)
      }
      return out
    })
  }

  async endpointsInNamespace(ns: NsIdentity): Promise<EndpointRecord[]> {
    const docs = await this.#epsUnder(K.nsEps(this.#ns(checkNs(ns, 'ns'))))
    return docs.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id)).map(publicEndpoint)
  }

  async endpoints(networkId: string): Promise<EndpointRecord[]> {
    const docs = await this.#epsUnder(K.netEps(checkId(networkId, 'networkId')))
    return docs.sort((a, b) => a.nameKey.localeCompare(b.nameKey)).map(publicEndpoint)
  }

  async resolve(networkId: string, name: string): Promise<EndpointRecord[]> {
    const docs = await this.#epsUnder(K.names(checkId(networkId, 'networkId'), nameKey(checkRecordName(name, 'name'))))
    return docs
      .filter((d) => d.state === 'connected')
      .sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id))
      .map(publicEndpoint)
  }

  // --- intents ------------------------------------------------------------------------------

  async intents(): Promise<Intent[]> {
    return this.#tx('read', async (tx) => {
      const out: Intent[] = []
      for (const x of await tx.list(K.intents)) {
        const [, kind, id] = x.key.split('/').map(decodeURIComponent) as [string, 'network' | 'endpoint', string]
        if (kind === 'network') {
          const d = await tx.get<NetworkDoc>(K.net(id))
          if (d && d.state !== 'ready')
            out.push({ kind, id, networkId: id, state: d.state, owner: d.owner, ownerState: ownerState(d.owner), network: publicNetwork(d) })
        } else {
          const d = await tx.get<EndpointDoc>(K.ep(id))
          if (d && d.state !== 'connected')
            out.push({ kind, id, networkId: d.networkId, state: d.state, owner: d.owner, ownerState: ownerState(d.owner), endpoint: publicEndpoint(d) })
        }
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
    return this.#tx('take over', async (tx) => {
      const key = kind === 'network' ? K.net(id) : K.ep(id)
      const d = await tx.get<NetworkDoc | EndpointDoc>(key)
      if (!d || d.state === 'ready' || d.state === 'connected' || !sameOwner(d.owner, from)) return false
      d.owner = owner
      tx.put(key, d)
      logChange(tx, kind, id, kind === 'network' ? id : (d as EndpointDoc).networkId)
      return true
    })
  }

  // --- changes ------------------------------------------------------------------------------

  /** Tombstones of deleted records older than 20,000 revisions go; readers further behind start again. */
  async #trimLog(): Promise<void> {
    const { items, rev } = await this.#be.range(K.logs, prefixEnd(K.logs))
    const floor = rev - 20000
    const old = items.filter((i) => i.mod <= floor && (JSON.parse(i.value) as LogEntry).deleted)
    if (!old.length) return
    await transact(this.#be, 'trim', this.#timeout, async (tx) => {
      for (const i of old) tx.del(i.key)
      const cur = await tx.get<number>(K.logFloor)
      tx.put(K.logFloor, Math.max(cur ?? 0, floor))
    })
  }

  async sequence(): Promise<number> {
    return (await this.#be.range(K.logFloor, K.logFloor + '\0', 1)).rev
  }

  async changesSince(seq: number): Promise<ChangeBatch> {
    if (!Number.isSafeInteger(seq) || seq < 0) throw invalidArg('seq', seq, 'must be an integer >= 0')
    const floorItem = (await this.#be.get(K.logFloor)).item
    const { items, rev } = await this.#be.changedSince(K.logs, prefixEnd(K.logs), seq)
    if (floorItem && seq < Number(floorItem.value)) return { seq: rev, changes: [], reset: true }
    const changes: Change[] = []
    for (const i of items.sort((a, b) => a.mod - b.mod)) {
      const l = JSON.parse(i.value) as LogEntry
      const c: Change = { seq: i.mod, kind: l.kind, id: l.id, networkId: l.networkId }
      if (!l.deleted) {
        if (l.kind === 'network') c.network = await this.network(l.id)
        else c.endpoint = await this.endpoint(l.id)
      }
      changes.push(c)
    }
    return { seq: Math.max(rev, seq), changes, reset: false }
  }

  onChange(listener: () => void): () => void {
    if (typeof listener !== 'function') throw invalidArg('listener', listener, 'must be a function', 'ERR_INVALID_ARG_TYPE')
    return this.#be.watch(K.logs, prefixEnd(K.logs), listener)
  }

  async close(): Promise<void> {
    await this.#be.close()
  }
}
