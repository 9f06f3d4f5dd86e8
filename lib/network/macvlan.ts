// Docker's macvlan driver: each endpoint is a macvlan on a parent device, created directly inside the
// container's namespace with its own MAC and an address from the store; the gateway is a router on the
// parent's network (not ours: it is only reserved). The network and its endpoints are recorded in the
// NetworkStore (intent first, result last) so Network.open, list and gc find them; there are no
// published ports or embedded DNS for this driver (connect options for them are refused as unsupported).
import { randomBytes } from 'node:crypto'
import { NetlinkError, NetnsKitError, invalidArg, relabelled } from '../errors'
import { checkNetworkName, type EndpointRecord, type NetworkRecord, type NetworkStore } from '../ipam'
import { contains, formatPrefix, parseIp, parsePrefix } from '../ipam/ip'
import { runOne } from '../kernel/rtnl'
import { Link } from '../link'
import { Macvlan } from '../macvlan'
import { defaultNamespace, type Namespace } from '../namespace'
import type { MacvlanMode } from '../types'
import { checkIfName } from '../validate'
import { DriverNetwork, NetworkEndpoint, checkConnectOptions, containerIfname, type ConnectOptionsBase } from './driver'
import { connectEtcFiles, etcFilesAfter } from './etc-files'
import { macForIp } from './mac'
import { linkAlias } from './owned'
import { identity, nsAlive, openRecorded, storeOf } from './state'
import { applyMoves, disconnectDead, disconnectSequence, findMacvlan, pendingMacvlanName, teardownMacvlanEndpoint } from './teardown'

const MODES = ['bridge', 'private', 'vepa', 'passthru'] as const

export interface MacvlanNetworkOptions {
  name: string
  /** The parent device: a Link, or a name in `namespace`. */
  parent: Link | string
  /** The namespace of the parent (default: the parent Link's, else the current one). */
  namespace?: Namespace
  /** Default 'bridge' (Docker's default). */
  mode?: 'bridge' | 'private' | 'vepa' | 'passthru'
  subnet: string
  /** The router of the parent's network (default: the subnet's first address); never handed out. */
  gateway?: string
  /** Hand addresses out of this prefix only (Docker's --ip-range). */
  ipRange?: string
  /** Where the network and its endpoints are recorded (default: the SqliteStore on /run/netns-kit/state.db). */
  store?: NetworkStore
}

/** One container on a macvlan network. */
export class MacvlanEndpoint extends NetworkEndpoint {
  /** A macvlan has no host end. */
  declare readonly hostInterface: undefined

  /** @internal */
  constructor(
    readonly network: MacvlanNetwork,
    namespace: Namespace,
    readonly link: Macvlan,
    ip: string,
    prefixLength: number,
    mac: string,
    gateway: string,
    id: string,
  ) {
    super({ namespace, id, ip, prefixLength, mac, gateway, ifname: link.name, hostInterface: undefined })
  }

  /** @deprecated The endpoint's id (what owned its address before the store recorded endpoints). */
  get owner(): string {
    return this.id
  }

  /** Its name in the store, `ep-ID` (a macvlan endpoint has no other): what `network.endpoint({ name })` finds it by. */
  get name(): string {
    return `ep-${this.id}`
  }
}

/**
 * `docker network create -d macvlan -o parent=PARENT -o macvlan_mode=MODE --subnet S --gateway G NAME`.
 * Endpoints sit directly on the parent's network: no bridge, no NAT; the gateway is the
 * network's router. In 'bridge' mode endpoints on one parent reach each other, in 'private' they
 * do not, in 'vepa' only through an external switch that hairpins; 'passthru' allows one endpoint.
 * (The parent's own host cannot reach the endpoints through the parent: that is how macvlan works.)
 */
export class MacvlanNetwork extends DriverNetwork<MacvlanEndpoint> {
  readonly driver = 'macvlan' as const
  /** The network's id in the store. */
  readonly id: string
  readonly parent: Link
  readonly mode: MacvlanMode
  /** Where the network and its endpoints are recorded. */
  readonly store: NetworkStore

  private constructor(rec: NetworkRecord, parent: Link, mode: MacvlanMode, store: NetworkStore) {
    const pool = rec.pools[0]!
    super({ name: rec.name, subnet: pool.subnet, gateway: pool.gateway })
    this.id = rec.id
    this.parent = parent
    this.mode = mode
    this.store = store
  }

  /** The namespace of the parent device (where the network is recorded). */
  get namespace(): Namespace {
    return this.parent.namespace
  }

  /**
   * Records the network in the store (or takes the macvlan network with this name and subnet),
   * after checking the parent exists (a network of another driver or subnet with this name:
   * ERR_NETNS_KIT_NETWORK_EXISTS). Nothing is made in the kernel until a container connects.
   * `docker network create -d macvlan -o parent=PARENT -o macvlan_mode=MODE --subnet S [--gateway G] [--ip-range R] NAME`.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for bad input, before anything is recorded (a bad name, mode, subnet, gateway outside the subnet, parent name; a parent Link outside `namespace`; a `store` that is not a NetworkStore).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when there is no parent by that name.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_EXISTS` for a network of another driver or subnet by that name; `ERR_NETNS_KIT_SUBNET_OVERLAP` for a subnet overlapping another network's; `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails; `ERR_NETNS_KIT_CLOSED` or `ERR_NETNS_KIT_NO_NAMESPACE` for a closed or deleted namespace.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async create(opts: MacvlanNetworkOptions): Promise<MacvlanNetwork> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const name = checkNetworkName(opts.name, 'opts.name')
    const mode = opts.mode ?? 'bridge'
    if (!(MODES as readonly string[]).includes(mode)) throw invalidArg('opts.mode', mode, `must be one of ${MODES.map((m) => `'${m}'`).join(', ')}`)
    const subnet = parsePrefix(opts.subnet, 'opts.subnet')
    if (opts.gateway !== undefined && !contains(subnet, parseIp(opts.gateway, 'opts.gateway'))) {
      throw invalidArg('opts.gateway', opts.gateway, `must be inside the subnet ${opts.subnet}`)
    }
    if (!(opts.parent instanceof Link)) checkIfName(opts.parent, 'opts.parent')
    if (opts.parent instanceof Link && opts.namespace !== undefined && !opts.parent.namespace.equals(opts.namespace)) {
      throw invalidArg('opts.parent', opts.parent.name, 'must be in opts.namespace')
    }
    const store = storeOf(opts.store)
    const ns = opts.parent instanceof Link ? opts.parent.namespace : await defaultNamespace(opts.namespace)
    const parent = opts.parent instanceof Link ? opts.parent : await ns.link(opts.parent)
    const host = identity(parent.namespace)
    let rec: NetworkRecord
    try {
      // No kernel work between the intent and its result: a crash in between leaves an intent gc undoes.
      const begun = await store.beginCreateNetwork({
        name,
        driver: 'macvlan',
        host,
        pools: [{ subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange }],
        config: { parent: parent.name, mode },
      })
      rec = await store.finishCreateNetwork(begun.id)
    } catch (e) {
      if ((e as NetnsKitError).code !== 'ERR_NETNS_KIT_NETWORK_EXISTS') throw e
      const cur = await store.networkByName(host, name)
      if (!cur || cur.driver !== 'macvlan' || cur.state !== 'ready' || cur.pools[0]?.subnet !== formatPrefix(subnet)) {
        throw new NetnsKitError(
          'ERR_NETNS_KIT_NETWORK_EXISTS',
          `a ${cur?.driver ?? ''} network named '${name}' exists${cur?.pools[0] ? ` with the subnet ${cur.pools[0].subnet}` : ''}`,
        )
      }
      rec = cur
    }
    return new MacvlanNetwork(rec, parent, mode, store)
  }

  /** @internal The network of a record (Network.open, list): its parent looked up by name. */
  static async fromRecord(ns: Namespace, store: NetworkStore, rec: NetworkRecord): Promise<MacvlanNetwork> {
    const mode = (MODES as readonly string[]).includes(rec.config.mode as string) ? (rec.config.mode as MacvlanMode) : 'bridge'
    return new MacvlanNetwork(rec, await ns.link(String(rec.config.parent)), mode, store)
  }

  /**
   * `ip link add link PARENT name nkID netns NS address MAC type macvlan mode MODE`, `ip -n NS link
   * set nkID name IFNAME alias netns-kit:NET:ID up` (one message: a macvlan a killed connect leaves
   * is always recognisable as this endpoint's), `ip -n NS addr add IP/LEN dev IFNAME`, `ip -n NS
   * route add default via GATEWAY`: the macvlan is created directly inside `ns`, after the store
   * recorded the intent and claimed the address and the interface name. A named container namespace gets its hosts, hostname and resolv.conf
   * (the host's name servers: no embedded DNS on macvlan) in /etc/netns/NAME/, rewritten at
   * disconnect, as on a bridge network. A failure half-way removes it and gives the address back.
   * `docker network connect NET CONTAINER [--ip IP]`.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for bad input, before anything reaches the kernel (`ns` not a Namespace; a bad ifname or MAC; an `ip` outside the subnet).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_UNSUPPORTED` for an option only the bridge driver has (name, ip6, aliases, hostname, publish); `ERR_NETNS_KIT_IFNAME_IN_USE` for an `ifname` the container has; `ERR_NETNS_KIT_ENDPOINT_EXISTS`, `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED` from IPAM; `ERR_NETNS_KIT_NO_NETWORK` or `ERR_NETNS_KIT_NETWORK_NOT_READY` when the network was removed or is not ready; `ERR_NETNS_KIT_CLOSED` or `ERR_NETNS_KIT_NO_NAMESPACE` for a closed or deleted namespace; `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails. Everything claimed or made so far is given back.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'EEXIST'` when the container has a link by that name, `'EINVAL'` for a parent that cannot carry one more macvlan (a second endpoint in 'passthru' mode), `'ENODEV'` when the parent is gone. Everything made so far is removed.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async connect(ns: Namespace, opts: ConnectOptionsBase = {}): Promise<MacvlanEndpoint> {
    const { ifname: given, mac: mac0, ip } = checkConnectOptions('macvlan', ns, opts, this.subnet)
    const id = randomBytes(6).toString('hex')
    const nsId = identity(ns)
    const { endpoint: rec } = await this.store.beginConnect(this.id, {
      id,
      name: `ep-${id}`,
      ns: nsId,
      ...(await containerIfname(ns, given)),
      addresses: [{ family: 4, ip }],
      ...(mac0 !== undefined ? { mac: mac0 } : {}),
    })
    const a = rec.addresses[0]!
    const ifname = rec.ifname
    const mac = mac0 ?? macForIp(a.address)
    let link: Macvlan | undefined
    // A named container's /etc/netns files, as a bridge connect writes them (see connectEtcFiles).
    const files = connectEtcFiles(this.store, nsId, id)
    try {
      // Born under the endpoint's own name (the kernel ignores IFLA_IFALIAS on a create), then
      // named and labelled in one message: a macvlan a killed connect leaves behind is always
      // recognisable as this endpoint's, never one the user made under the container's name.
      const made = await Macvlan.create({ name: pendingMacvlanName(id), parent: this.parent, mode: this.mode, mac, up: false, target: ns })
      link = made
      await runOne({ ns, op: 'link.set', index: made.index, name: ifname, alias: linkAlias(this.name, id), up: true, object: ifname })
      link = new Macvlan(ns, ifname, made.index)
      await link.addAddress(`${a.address}/${a.prefixLength}`, { nodad: true })
      if (rec.gateway4) await ns.routes.replace({ to: 'default', via: a.gateway })
      await files.written()
      await this.store.finishConnect(id, { mac })
    } catch (e) {
      await link?.delete().catch(() => {})
      await files.undo()
      await applyMoves(await this.store.abortConnect(id).catch(() => [])).catch(() => {})
      // The kernel's refusal of the create names the interface the caller asked for.
      throw e instanceof NetlinkError && e.object === pendingMacvlanName(id) ? relabelled(e, ifname) : e
    }
    return new MacvlanEndpoint(this, ns, link, a.address, a.prefixLength, mac, a.gateway, id)
  }

  /**
   * Removes the endpoint's macvlan and gives its address back; idempotent (also when the container's namespace is gone).
   * `docker network disconnect NET CONTAINER`.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `ep` is not an endpoint of this network, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_BUSY` when another live process holds the endpoint mid-connect for more than a few seconds; `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`) (what is already gone is not an error).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async disconnect(ep: MacvlanEndpoint): Promise<void> {
    if (!(ep instanceof MacvlanEndpoint) || ep.network.id !== this.id)
      throw invalidArg('endpoint', ep, `must be an endpoint of ${this.name}`, 'ERR_INVALID_ARG_TYPE')
    await disconnectSequence(this.store, ep.id, (r) => this.#teardown(r))
  }

  /**
   * One endpoint by its recorded name (`ep-ID`: a macvlan endpoint has no other name), as recorded
   * by any process, whatever its state (a connect or disconnect in progress, or one whose process
   * died, is found too: disconnect() finishes or undoes it): an O(log n) lookup. Its namespace is
   * opened by path (close() it when done); when the namespace or its macvlan is gone,
   * `endpoint.namespace` refuses every call as gone (or `endpoint.link` names a link that is not
   * there), and `disconnect()` still works. Undefined when there is none.
   * `docker network inspect NET` (one of its Containers).
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `q` is not `{ name: string }`, `ERR_INVALID_ARG_VALUE` for a name no endpoint can have (empty, too long, a space or NUL), before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async endpoint(q: { name: string }): Promise<MacvlanEndpoint | undefined> {
    if (!q || typeof q !== 'object' || typeof q.name !== 'string') throw invalidArg('query', q, 'must be { name: string }', 'ERR_INVALID_ARG_TYPE')
    const r = await this.store.endpointByName(this.id, q.name)
    return r && (await this.#fromRecord(r, true))
  }

  /**
   * The endpoints connected to this network, as recorded by any process, each with its
   * namespace opened by path (close() it when done) and its macvlan found there by the
   * network's alias. Endpoints whose namespace or macvlan is gone are left out (Network.gc()
   * removes them). In the order they were connected. Reads every endpoint record: not for a hot path.
   * `docker network inspect NET` (its Containers).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async endpoints(): Promise<MacvlanEndpoint[]> {
    const out: MacvlanEndpoint[] = []
    const recs = (await this.store.endpoints(this.id)).sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id))
    for (const r of recs) {
      if (r.state !== 'connected' || !nsAlive(r.ns)) continue
      const ep = await this.#fromRecord(r, false)
      if (ep) out.push(ep)
    }
    return out
  }

  /** The endpoint of a record: its macvlan looked up by name and alias; when gone, undefined or (`orGone`) one naming it. */
  async #fromRecord(r: EndpointRecord, orGone: boolean): Promise<MacvlanEndpoint | undefined> {
    const ns = await openRecorded(r.ns)
    const l = nsAlive(r.ns) ? await findMacvlan(ns, this.name, r).catch(() => null) : null
    const ours = l !== null && l.kind === 'macvlan' && l.alias === linkAlias(this.name, r.id)
    if (!ours && !orGone) {
      await ns.close()
      return undefined
    }
    const a = r.addresses[0]!
    return new MacvlanEndpoint(this, ns, new Macvlan(ns, ours ? l.name : r.ifname, ours ? l.index : 0), a.address, a.prefixLength, r.mac ?? '', a.gateway, r.id)
  }

  /** An endpoint's macvlan, then its container's /etc/netns files without it (its record still there: see etcFilesAfter). */
  async #teardown(r: EndpointRecord): Promise<void> {
    await teardownMacvlanEndpoint(this.name, r)
    await etcFilesAfter(this.store, r.ns, r.id).catch(() => {})
  }

  /**
   * Forgets the network (refused with ERR_NETNS_KIT_NETWORK_IN_USE while endpoints are
   * connected unless `force`, which disconnects them first; endpoints whose container namespace
   * is gone do not count: they are disconnected). Idempotent.
   * `docker network rm NAME`.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_IN_USE` while endpoints are connected (unless `force`); `ERR_NETNS_KIT_NETWORK_BUSY` while another live process creates or removes it; `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`) while `force` disconnects endpoints (what is already gone is not an error).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    if (opts?.force !== true) await disconnectDead(this.store, this.id, (e) => this.#teardown(e))
    let start
    try {
      start = await this.store.beginRemoveNetwork(this.id, { force: opts?.force === true })
    } catch (e) {
      if ((e as NetnsKitError).code === 'ERR_NETNS_KIT_NO_NETWORK') return
      throw e
    }
    for (const e of start.endpoints) await disconnectSequence(this.store, e.id, (r) => this.#teardown(r))
    await this.store.finishRemoveNetwork(this.id)
  }
}
