// The NetworkStore contract over a KvBackend (memory, etcd): the same records, intents and
// uniqueness as the SQLite schema, written as optimistic transactions. Uniqueness is a key per
// claimed thing (a name, an address, an interface, a host port) created in the same transaction
// as the record, under a compare that nobody wrote it since the transaction began.
import { invalidArg } from '../errors'
import { formatIp, lastOf, parseIp, parsePrefix, type Family } from './ip'
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
  type PoolRecord,
  type PortRecord,
  type RemoveStart,
  type RuleOwner,
} from './network-store'
import {
  autoIfname,
  checkId,
  checkNs,
  checkRecordName,
  checkRequested,
  checkRules,
  chooseSubnet,
  exhausted,
  firstFreeAsync,
  fromHex,
  hexOf,
  claimsOf,
  nameKey,
  noEndpoint,
  noFreePort,
  noNetwork,
  normaliseEndpointSpec,
  normaliseNetworkSpec,
  notOwner,
  nsKey,
  poolOf,
  portCandidates,
  portsClash,
  portTaken,
  prefixLengthOf,
  scanSegments,
  scopeOf,
  subnetConflict,
  takesGateway,
  wrongState,
  type NormalPort,
} from './store-logic'

interface NetworkDoc extends NetworkRecord {
  scope: string
}
interface EndpointDoc extends EndpointRecord {
  nsKey: string
  hostScope: string
  nameKey: string
  names: string[]
}
interface SubnetEntry {
  networkId: string
  name: string
  family: Family
  first: string
  last: string
  subnet: string
}
interface PortClaim extends PortRecord {
  endpointId: string
  name: string
}
interface LogEntry {
  kind: 'network' | 'endpoint'
  id: string
  networkId: string
  deleted: boolean
}

const k = (...parts: (string | number)[]) => parts.map((p) => encodeURIComponent(String(p))).join('/')
const K = {
  net: (id: string) => k('n', id),
  netName: (scope: string, name: string) => k('nn', scope, name),
  subnets: (scope: string) => k('sub', scope),
  ep: (id: string) => k('e', id),
  epName: (net: string, key: string) => k('en', net, key),
  names: (net: string, key: string) => `${k('nm', net, key)}/`,
  name: (net: string, key: string, id: string) => k('nm', net, key, id),
  addrs: (net: string, family: Family) => `${k('a', net, family)}/`,
  addr: (net: string, family: Family, hex: string) => k('a', net, family, hex),
  netAddrs: (net: string) => `${k('a', net)}/`,
  cursor: (net: string, family: Family) => k('cur', net, family),
  port: (scope: string, proto: string, port: number) => k('p', scope, proto, String(port).padStart(5, '0')),
  portCursor: (scope: string, proto: string) => k('pc', scope, proto),
  ifname: (ns: string, ifname: string) => k('if', ns, ifname),
  gw: (ns: string, family: Family) => k('gw', ns, family),
  cni: (net: string, cid: string, ifname: string) => k('cni', net, cid, ifname),
  hostIf: (scope: string, hostIf: string) => k('hi', scope, hostIf),
  rule: (id: string) => k('r', id),
  intent: (kind: string, id: string) => k('i', kind, id),
  intents: 'i/',
  netEps: (net: string) => `${k('ne', net)}/`,
  netEp: (net: string, id: string) => k('ne', net, id),
  nsEps: (ns: string) => `${k('ns', ns)}/`,
  nsEp: (ns: string, id: string) => k('ns', ns, id),
  log: (kind: string, id: string) => k('log', kind, id),
  logs: 'log/',
  logFloor: 'meta/logfloor',
}

const publicNetwork = ({ scope: _s, ...n }: NetworkDoc): NetworkRecord => n
const publicEndpoint = ({ nsKey: _a, hostScope: _b, nameKey: _c, names: _d, ...e }: EndpointDoc): EndpointRecord => e

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

  #log(tx: KvTx, kind: 'network' | 'endpoint', id: string, networkId: string, deleted = false): void {
    tx.put(K.log(kind, id), { kind, id, networkId, deleted } satisfies LogEntry)
  }

  // --- networks -----------------------------------------------------------------------------

  async beginCreateNetwork(spec: CreateNetworkSpec): Promise<NetworkRecord> {
    const n = normaliseNetworkSpec(spec)
    const scope = this.#scope(n.host)
    return this.#tx('create network', async (tx) => {
      if (await tx.get(K.net(n.id))) throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network with id '${n.id}' exists`, { network: n.name })
      if (await tx.get(K.netName(scope, n.name)))
        throw new StoreError('ERR_NETNS_KIT_NETWORK_EXISTS', `a network named '${n.name}' exists`, { network: n.name })
      // The subnets this one must not overlap: its scope's and every host's ('*'); all scopes' for a '*' network.
      const lists =
        scope === '*'
          ? (await tx.list<{ pools: SubnetEntry[] }>('sub/')).map((x) => ({ key: x.key, pools: x.value.pools }))
          : [
              { key: K.subnets(scope), pools: (await tx.get<{ pools: SubnetEntry[] }>(K.subnets(scope)))?.pools ?? [] },
              { key: K.subnets('*'), pools: (await tx.get<{ pools: SubnetEntry[] }>(K.subnets('*')))?.pools ?? [] },
            ]
      const all = lists.flatMap((l) => l.pools)
      const hitOf = (family: Family, first: bigint, last: bigint) =>
        all.find((s) => s.family === family && fromHex(s.first) <= last && fromHex(s.last) >= first)
      const pools: PoolRecord[] = []
      const mine: SubnetEntry[] = []
      for (const p of n.pools) {
        let def: PoolRecord
        if ('auto' in p) {
          const subnet = chooseSubnet(
            p.auto,
            (c) =>
              hitOf(4, c.network, lastOf(c)) !== undefined || mine.some((m) => m.family === 4 && fromHex(m.first) <= lastOf(c) && fromHex(m.last) >= c.network),
          )
          if (!subnet) throw new StoreError('ERR_NETNS_KIT_POOL_EXHAUSTED', 'no free subnet left in the address pools', { network: n.name })
          def = { family: 4, subnet, gateway: formatIp({ family: 4, value: parsePrefix(subnet).network + 1n }) }
        } else {
          def = p.def
        }
        const pool = poolOf(def)
        const hit = hitOf(def.family, pool.first, pool.last)
        if (hit) throw subnetConflict(pool.subnet, n.name, hit.name, hit.subnet)
        pools.push(def)
        mine.push({ networkId: n.id, name: n.name, family: def.family, first: hexOf(pool.first), last: hexOf(pool.last), subnet: def.subnet })
      }
      const own = lists.find((l) => l.key === K.subnets(scope))?.pools ?? []
      tx.put(K.subnets(scope), { pools: [...own, ...mine] })
      const doc: NetworkDoc = {
        id: n.id,
        name: n.name,
        driver: n.driver,
        host: n.host,
        state: 'creating',
        owner: n.owner,
        pools,
        config: n.config,
        labels: n.labels,
        rules: [],
        created: n.created,
        scope,
      }
      tx.put(K.net(n.id), doc)
      tx.put(K.netName(scope, n.name), n.id)
      tx.put(K.intent('network', n.id), '')
      this.#log(tx, 'network', n.id, n.id)
      return publicNetwork(doc)
    })
  }

  async #heldNetwork(tx: KvTx, id: string, state: string, owner: Owner): Promise<NetworkDoc | undefined> {
    const d = await tx.get<NetworkDoc>(K.net(id))
    if (!d) return undefined
    if (d.state !== state) throw wrongState(`the network '${d.name}'`, d.state, state)
    if (!sameOwner(d.owner, owner)) throw notOwner(`the network '${d.name}'`, d.state)
    return d
  }

  async #addRule(tx: KvTx, ruleId: string, o: RuleOwner): Promise<boolean> {
    const cur = await tx.get<RuleOwner>(K.rule(ruleId))
    if (cur) {
      if (cur.networkId === o.networkId && cur.endpointId === o.endpointId) return false
      throw new StoreError(
        'ERR_NETNS_KIT_RULE_OWNED',
        `the rule ${ruleId} belongs to ${cur.endpointId ? `the endpoint ${cur.endpointId}` : `the network ${cur.networkId}`}`,
      )
    }
    tx.put(K.rule(ruleId), o)
    return true
  }

  async finishCreateNetwork(id: string, patch: { rules?: string[]; config?: Record<string, unknown> } = {}, owner = currentOwner()): Promise<NetworkRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    return this.#tx('finish create', async (tx) => {
      const d = await this.#heldNetwork(tx, id, 'creating', owner)
      if (!d) throw noNetwork(id)
      for (const r of rules) if (await this.#addRule(tx, r, { networkId: id })) d.rules.push(r)
      d.state = 'ready'
      if (patch.config !== undefined) d.config = JSON.parse(JSON.stringify(patch.config)) as Record<string, unknown>
      tx.put(K.net(id), d)
      tx.del(K.intent('network', id))
      this.#log(tx, 'network', id, id)
      return publicNetwork(d)
    })
  }

  /** Deletes a network and what hangs on it (pools, allocations without endpoint, cursors, rules). */
  async #deleteNetwork(tx: KvTx, d: NetworkDoc): Promise<void> {
    const subs = (await tx.get<{ pools: SubnetEntry[] }>(K.subnets(d.scope)))?.pools ?? []
    const left = subs.filter((s) => s.networkId !== d.id)
    if (left.length) tx.put(K.subnets(d.scope), { pools: left })
    else tx.del(K.subnets(d.scope))
    tx.delPrefix(K.netAddrs(d.id))
    for (const p of d.pools) tx.del(K.cursor(d.id, p.family))
    for (const r of d.rules) tx.del(K.rule(r))
    tx.del(K.net(d.id))
    tx.del(K.netName(d.scope, d.name))
    tx.del(K.intent('network', d.id))
    this.#log(tx, 'network', d.id, d.id, true)
  }

  async abortCreateNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#tx('abort create', async (tx) => {
      const d = await this.#heldNetwork(tx, id, 'creating', owner)
      if (d) await this.#deleteNetwork(tx, d)
    })
  }

  async beginRemoveNetwork(id: string, opts: { force?: boolean; owner?: Owner } = {}): Promise<RemoveStart> {
    checkId(id, 'id')
    const owner = opts.owner ?? currentOwner()
    return this.#tx('remove network', async (tx) => {
      const d = await tx.get<NetworkDoc>(K.net(id))
      if (!d) throw noNetwork(id)
      if (d.state !== 'ready' && !sameOwner(d.owner, owner) && ownerState(d.owner) !== 'dead') {
        throw new StoreError('ERR_NETNS_KIT_NETWORK_BUSY', `the network '${d.name}' is ${d.state} by process ${d.owner.pid}`, { network: d.name })
      }
      const ids = (await tx.list<string>(K.netEps(id))).map((x) => decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1)))
      if (ids.length && !opts.force) {
        const names: string[] = []
        for (const e of ids.slice(0, 3)) names.push((await tx.get<EndpointDoc>(K.ep(e)))?.name ?? e)
        throw new StoreError(
          'ERR_NETNS_KIT_NETWORK_IN_USE',
          `the network '${d.name}' has ${ids.length} endpoint(s) (${names.join(', ')}${ids.length > 3 ? ', ...' : ''}): disconnect them or remove with { force: true }`,
          { network: d.name },
        )
      }
      const eps: EndpointRecord[] = []
      for (const e of ids) {
        const doc = await tx.get<EndpointDoc>(K.ep(e))
        if (doc) eps.push(publicEndpoint(doc))
      }
      d.state = 'removing'
      d.owner = owner
      tx.put(K.net(id), d)
      tx.put(K.intent('network', id), '')
      this.#log(tx, 'network', id, id)
      return { network: publicNetwork(d), endpoints: eps.sort((a, b) => a.created.localeCompare(b.created)) }
    })
  }

  async finishRemoveNetwork(id: string, owner = currentOwner()): Promise<void> {
    checkId(id, 'id')
    await this.#tx('finish remove', async (tx) => {
      const d = await this.#heldNetwork(tx, id, 'removing', owner)
      if (!d) return
      if ((await tx.list(K.netEps(id))).length)
        throw new StoreError('ERR_NETNS_KIT_NETWORK_IN_USE', `the network '${d.name}' still has endpoints`, { network: d.name })
      await this.#deleteNetwork(tx, d)
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
    return this.#tx('connect', async (tx) => {
      const net = await tx.get<NetworkDoc>(K.net(networkId))
      if (!net) throw noNetwork(networkId)
      if (net.state !== 'ready') throw new StoreError('ERR_NETNS_KIT_NETWORK_NOT_READY', `the network '${net.name}' is ${net.state}`, { network: net.name })
      // Host interfaces and host ports are per host namespace (this host's, for a network of every host).
      const hostScope = e.host ? this.#scope(e.host) : net.scope === '*' ? `${this.#host}*` : net.scope
      if (await tx.get(K.ep(e.id)))
        throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint with id '${e.id}' exists`, { network: net.name, endpoint: e.name })
      if (await tx.get(K.epName(networkId, e.nameKey)))
        throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `an endpoint named '${e.name}' is connected to the network '${net.name}'`, {
          network: net.name,
          endpoint: e.name,
        })
      let ifname = e.ifname
      if (ifname === undefined) {
        const used = new Set((await tx.list<string>(`${k('if', nk)}/`)).map((x) => decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1))))
        ifname = autoIfname((n) => used.has(n), e.ifnamesInUse)
      }
      if (await tx.get(K.ifname(nk, ifname)))
        throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the interface ${ifname} is taken in the namespace ${e.ns.path ?? nk} by another endpoint`, {
          network: net.name,
          endpoint: e.name,
        })
      if (e.containerId !== undefined && (await tx.get(K.cni(networkId, e.containerId, ifname)))) {
        throw new StoreError('ERR_NETNS_KIT_ENDPOINT_EXISTS', `the container '${e.containerId}' is attached to the network '${net.name}' as ${ifname}`, {
          network: net.name,
          endpoint: e.name,
        })
      }
      if (e.hostIf !== undefined && (await tx.get(K.hostIf(hostScope, e.hostIf))))
        throw new StoreError('ERR_NETNS_KIT_IFNAME_IN_USE', `the host interface ${e.hostIf} belongs to another endpoint`, {
          network: net.name,
          endpoint: e.name,
        })
      const addresses = []
      for (const a of e.addresses) addresses.push(await this.#allocate(tx, net, a.family, a.ip, e.id))
      const ports: PortRecord[] = []
      for (const p of e.ports) ports.push(...(await this.#claimPort(tx, hostScope, p, e.id, e.name)))
      const doc: EndpointDoc = {
        id: e.id,
        networkId,
        name: e.name,
        aliases: e.aliases,
        ...(e.hostname !== undefined ? { hostname: e.hostname } : {}),
        state: 'connecting',
        owner: e.owner,
        ns: e.ns,
        ifname,
        ...(e.hostIf !== undefined ? { hostIf: e.hostIf } : {}),
        ...(e.mac !== undefined ? { mac: e.mac } : {}),
        ...(e.containerId !== undefined ? { containerId: e.containerId } : {}),
        addresses,
        ports,
        rules: [],
        gatewayPriority: e.gatewayPriority,
        gateway4: false,
        gateway6: false,
        ...(e.dns ? { dns: e.dns } : {}),
        extraHosts: e.extraHosts,
        config: e.config,
        created: e.created,
        nsKey: nk,
        hostScope,
        nameKey: e.nameKey,
        names: e.names,
      }
      const moves: GatewayMove[] = []
      for (const a of addresses) moves.push(...(await this.#takeGateway(tx, doc, a.family)))
      tx.put(K.ep(e.id), doc)
      tx.put(K.epName(networkId, e.nameKey), e.id)
      for (const n of e.names) tx.put(K.name(networkId, n, e.id), '')
      tx.put(K.ifname(nk, ifname), e.id)
      if (e.containerId !== undefined) tx.put(K.cni(networkId, e.containerId, ifname), e.id)
      if (e.hostIf !== undefined) tx.put(K.hostIf(hostScope, e.hostIf), e.id)
      tx.put(K.netEp(networkId, e.id), '')
      tx.put(K.nsEp(nk, e.id), '')
      tx.put(K.intent('endpoint', e.id), '')
      this.#log(tx, 'endpoint', e.id, networkId)
      return { endpoint: publicEndpoint(doc), moves }
    })
  }

  async #allocate(tx: KvTx, net: NetworkDoc, family: Family, ip: ReturnType<typeof parseIp> | undefined, endpointId: string) {
    const def = net.pools.find((p) => p.family === family)
    if (!def)
      throw new StoreError('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET', `the network '${net.name}' has no IPv${family} subnet`, {
        network: net.name,
        address: ip && formatIp(ip),
      })
    const pool = poolOf(def)
    let value: bigint
    if (ip) {
      checkRequested(pool, ip, net.name)
      value = ip.value
      const holder = await tx.get<{ endpointId?: string; owner: string }>(K.addr(net.id, family, hexOf(value)))
      if (holder) {
        const name = holder.endpointId ? ((await tx.get<EndpointDoc>(K.ep(holder.endpointId)))?.name ?? holder.owner) : holder.owner
        throw new StoreError('ERR_NETNS_KIT_IP_IN_USE', `${formatIp(ip)} is already allocated to '${name}' in the network '${net.name}'`, {
          network: net.name,
          address: formatIp(ip),
        })
      }
    } else {
      const cur = await tx.get<string>(K.cursor(net.id, family))
      const prefix = K.addrs(net.id, family)
      let found: bigint | undefined
      for (const [lo, hi] of scanSegments(pool, cur === undefined ? undefined : fromHex(cur))) {
        const keys = tx.scan(prefix + hexOf(lo), prefix + hexOf(hi) + '\0')
        const taken = {
          async *[Symbol.asyncIterator]() {
            for await (const key of keys) yield fromHex(key.slice(prefix.length))
          },
        }
        found = await firstFreeAsync(pool, lo, hi, taken)
        await keys.return(undefined)
        if (found !== undefined) break
      }
      if (found === undefined) throw exhausted(pool, net.name)
      value = found
      tx.put(K.cursor(net.id, family), hexOf(value))
    }
    const address = formatIp({ family, value })
    tx.put(K.addr(net.id, family, hexOf(value)), { endpointId, owner: endpointId, address, at: new Date().toISOString() })
    return { family, address, subnet: def.subnet, prefixLength: prefixLengthOf(def.subnet), gateway: def.gateway }
  }

  async #claimPort(tx: KvTx, scope: string, p: NormalPort, endpointId: string, name: string): Promise<PortRecord[]> {
    const claimsAt = async (port: number) => (await tx.get<{ claims: PortClaim[] }>(K.port(scope, p.protocol, port)))?.claims ?? []
    const mine = claimsOf(p)
    const clashOf = (claims: PortClaim[], port: number) => {
      for (const q of mine) {
        const c = claims.find((x) => portsClash(x, { ...q, hostPort: port }))
        if (c) return { q, c }
      }
      return undefined
    }
    let port = p.hostPort
    let claims: PortClaim[]
    if (port !== undefined) {
      claims = await claimsAt(port)
      const clash = clashOf(claims, port)
      if (clash) throw portTaken({ ...clash.q, hostPort: port }, clash.c.name)
    } else {
      const cur = await tx.get<number>(K.portCursor(scope, p.protocol))
      claims = []
      for (const c of portCandidates(p, cur)) {
        const at = await claimsAt(c)
        if (!clashOf(at, c)) {
          port = c
          claims = at
          break
        }
      }
      if (port === undefined) throw noFreePort(p)
      tx.put(K.portCursor(scope, p.protocol), port)
    }
    const recs: PortRecord[] = mine.map((q) => ({ protocol: q.protocol, family: q.family, hostIp: q.hostIp, hostPort: port, containerPort: q.containerPort }))
    tx.put(K.port(scope, p.protocol, port), { claims: [...claims, ...recs.map((rec) => ({ ...rec, endpointId, name }))] })
    return recs
  }

  /** Gives `doc` the container's default route of `family` when its priority beats the holder's (doc is written by the caller). */
  async #takeGateway(tx: KvTx, doc: EndpointDoc, family: Family): Promise<GatewayMove[]> {
    const holderId = await tx.get<string>(K.gw(doc.nsKey, family))
    const holder = holderId === undefined || holderId === doc.id ? undefined : await tx.get<EndpointDoc>(K.ep(holderId))
    if (holderId === doc.id || !takesGateway(doc.gatewayPriority, holder ? holder.gatewayPriority : undefined)) return []
    const moves: GatewayMove[] = []
    if (holder) {
      if (family === 4) holder.gateway4 = false
      else holder.gateway6 = false
      tx.put(K.ep(holder.id), holder)
      this.#log(tx, 'endpoint', holder.id, holder.networkId)
      moves.push({ endpoint: publicEndpoint(holder), family, provides: false })
    }
    if (family === 4) doc.gateway4 = true
    else doc.gateway6 = true
    tx.put(K.gw(doc.nsKey, family), doc.id)
    return moves
  }

  async #heldEndpoint(tx: KvTx, id: string, state: string, owner: Owner): Promise<EndpointDoc | undefined> {
    const d = await tx.get<EndpointDoc>(K.ep(id))
    if (!d) return undefined
    if (d.state !== state) throw wrongState(`the endpoint '${d.name}'`, d.state, state)
    if (!sameOwner(d.owner, owner)) throw notOwner(`the endpoint '${d.name}'`, d.state)
    return d
  }

  async finishConnect(id: string, patch: FinishConnectPatch = {}, owner = currentOwner()): Promise<EndpointRecord> {
    checkId(id, 'id')
    const rules = patch.rules === undefined ? [] : checkRules(patch.rules, 'patch.rules')
    return this.#tx('finish connect', async (tx) => {
      const d = await this.#heldEndpoint(tx, id, 'connecting', owner)
      if (!d) throw noEndpoint(id)
      for (const r of rules) if (await this.#addRule(tx, r, { networkId: d.networkId, endpointId: id })) d.rules.push(r)
      d.state = 'connected'
      if (patch.mac !== undefined) d.mac = patch.mac
      if (patch.config !== undefined) d.config = JSON.parse(JSON.stringify(patch.config)) as Record<string, unknown>
      tx.put(K.ep(id), d)
      tx.del(K.intent('endpoint', id))
      this.#log(tx, 'endpoint', id, d.networkId)
      return publicEndpoint(d)
    })
  }

  /** Deletes an endpoint and its claims; the next endpoint of the container takes the default routes it held. */
  async #deleteEndpoint(tx: KvTx, d: EndpointDoc): Promise<GatewayMove[]> {
    tx.del(K.ep(d.id))
    tx.del(K.epName(d.networkId, d.nameKey))
    for (const n of d.names) tx.del(K.name(d.networkId, n, d.id))
    tx.del(K.ifname(d.nsKey, d.ifname))
    if (d.containerId !== undefined) tx.del(K.cni(d.networkId, d.containerId, d.ifname))
    if (d.hostIf !== undefined) tx.del(K.hostIf(d.hostScope, d.hostIf))
    for (const a of d.addresses) tx.del(K.addr(d.networkId, a.family, hexOf(parseIp(a.address).value)))
    for (const p of d.ports) {
      const key = K.port(d.hostScope, p.protocol, p.hostPort)
      const left = ((await tx.get<{ claims: PortClaim[] }>(key))?.claims ?? []).filter((c) => !(c.endpointId === d.id && c.hostIp === p.hostIp))
      if (left.length) tx.put(key, { claims: left })
      else tx.del(key)
    }
    for (const r of d.rules) tx.del(K.rule(r))
    tx.del(K.netEp(d.networkId, d.id))
    tx.del(K.nsEp(d.nsKey, d.id))
    tx.del(K.intent('endpoint', d.id))
    this.#log(tx, 'endpoint', d.id, d.networkId, true)
    const moves: GatewayMove[] = []
    for (const family of [4, 6] as const) {
      if (!(family === 4 ? d.gateway4 : d.gateway6)) continue
      tx.del(K.gw(d.nsKey, family))
      const others: EndpointDoc[] = []
      for (const x of await tx.list(K.nsEps(d.nsKey))) {
        const id = decodeURIComponent(x.key.slice(x.key.lastIndexOf('/') + 1))
        if (id === d.id) continue
        const o = await tx.get<EndpointDoc>(K.ep(id))
        if (o && o.gatewayPriority !== null && o.state !== 'disconnecting' && o.addresses.some((a) => a.family === family)) others.push(o)
      }
      others.sort((a, b) => b.gatewayPriority! - a.gatewayPriority! || a.created.localeCompare(b.created) || a.id.localeCompare(b.id))
      const next = others[0]
      if (!next) continue
      if (family === 4) next.gateway4 = true
      else next.gateway6 = true
      tx.put(K.ep(next.id), next)
      tx.put(K.gw(d.nsKey, family), next.id)
      this.#log(tx, 'endpoint', next.id, next.networkId)
      moves.push({ endpoint: publicEndpoint(next), family, provides: true })
    }
    return moves
  }

  async abortConnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#tx('abort connect', async (tx) => {
      const d = await this.#heldEndpoint(tx, id, 'connecting', owner)
      return d ? this.#deleteEndpoint(tx, d) : []
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
      this.#log(tx, 'endpoint', id, d.networkId)
      return { status: 'started', endpoint: publicEndpoint(d) }
    })
  }

  async finishDisconnect(id: string, owner = currentOwner()): Promise<GatewayMove[]> {
    checkId(id, 'id')
    return this.#tx('finish disconnect', async (tx) => {
      const d = await this.#heldEndpoint(tx, id, 'disconnecting', owner)
      return d ? this.#deleteEndpoint(tx, d) : []
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
        for (const r of ids) if (await this.#addRule(tx, r, { networkId: o.networkId, endpointId: o.endpointId })) d.rules.push(r)
        tx.put(K.ep(d.id), d)
        this.#log(tx, 'endpoint', d.id, d.networkId)
      } else {
        const d = await tx.get<NetworkDoc>(K.net(o.networkId))
        if (!d) throw noNetwork(o.networkId)
        for (const r of ids) if (await this.#addRule(tx, r, { networkId: o.networkId })) d.rules.push(r)
        tx.put(K.net(d.id), d)
        this.#log(tx, 'network', d.id, d.id)
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
      this.#log(tx, kind, id, kind === 'network' ? id : (d as EndpointDoc).networkId)
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
