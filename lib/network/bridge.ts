// Network: Docker-style networks. This file is the bridge driver (a bridge, its NAT and isolation
// rules, endpoints wired to the bridge, Docker's modes and embedded name resolution); Network.create,
// open and list also hand out the macvlan and overlay drivers' networks (lib/network/macvlan.ts,
// overlay.ts), peers through lib/network/driver.ts. State the kernel cannot hold goes to a
// NetworkStore (lib/ipam), intent first and result last (docs/STATE-STORE.md): connect's kernel trip
// is built in wiring() (lib/network/bridge-connect.ts), teardown happens in lib/network/teardown.ts, repair in lib/network/gc.ts.
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { invalidArg } from '../errors'
import { type NetworkRecord, type NetworkStore } from '../ipam'
import { runOne } from '../kernel/rtnl'
import { type Problem } from '../nat'
import { Namespace, defaultNamespace } from '../namespace'
import { checkBool } from '../validate'
import { type ConnectOptions, type NetworkCreateOptions } from './bridge-options'
import { restoreResolvers } from './dns'
import { DriverNetwork } from './driver'
import { Endpoint } from './endpoint'
import { gc, type GcOptions, type GcReport } from './gc'
import { listNetworks, openNetwork, type AnyNetwork, type NetworkLookupOptions } from './lookup'
import { MacvlanNetwork, type MacvlanNetworkOptions } from './macvlan'
import { OverlayNetwork, type OverlayNetworkOptions } from './overlay'
import type { OverlayAgent } from './overlay-agent'
import { bridgeConfig, type BridgeConfig } from './state'
import { connectEndpoint, type BridgeInternals } from './bridge-connect'
import { createBridgeNetwork } from './bridge-create'
import { checkNetwork, findEndpoint, inspectNetwork, listEndpoints } from './bridge-inspect'
import { disconnectEndpoint, removeNetwork } from './bridge-remove'
import { companionFor } from './companion'

/**
 * A Docker-style network in a host namespace: a bridge with the gateway address, masquerading
 * and isolation rules (NatRule), its records in a NetworkStore, and the endpoints connected to it.
 *
 * Docker's network modes, each one call:
 * - bridge: `await network.connect(ns)` (a veth, the address, the default route, ports);
 * - host: `await Network.host()`: the host's own namespace, no new interface;
 * - none: `await Network.none()`: a new namespace with only loopback up;
 * - container: `await Network.container(endpointOrPidOrNamespace)`: share another's namespace.
 *
 * Name resolution: on a network created with DNS (the default except for createDefault()),
 * each connected container gets a resolver on 127.0.0.11:53 inside its namespace that answers
 * the names and aliases of the network's containers (A, AAAA, PTR, NAME.NETWORK) and forwards
 * other names, from the host namespace, to the endpoint's `dns.servers`, else `dns.upstream`,
 * else the host's resolv.conf. With the default SqliteStore the resolvers and the published
 * ports' reservations live in the companion process of the host namespace and store (started
 * on demand, detached; see lib/companion/), so they outlive the process that called connect;
 * with another store they run inside this process (InProcessDns) and live as long as it does.
 * A named container namespace gets its hosts, hostname and resolv.conf in /etc/netns/NAME/
 * (what `ip netns exec` and `ns.spawn` bind-mount over /etc).
 */
export class Network extends DriverNetwork<Endpoint> {
  readonly driver = 'bridge' as const
  /** The network's id in the store: a network created again under the same name is another network. */
  readonly id: string
  readonly namespace: Namespace
  readonly ipRange: string | undefined
  readonly ipv6: { subnet: string; gateway: string } | undefined
  /**
   * The bridge. When it was gone when the network was opened (deleted by hand), its `index` is
   * 0: connect refuses with ERR_NETNS_KIT_NO_BRIDGE, and remove() and gc still work.
   */
  readonly bridge: Bridge
  readonly mtu: number | undefined
  readonly masquerade: boolean
  readonly icc: boolean
  readonly internal: boolean
  /** The embedded resolver serves this network's containers. */
  readonly dns: boolean
  /** Where the embedded resolver forwards other names; undefined: the host's /etc/resolv.conf nameservers. */
  readonly upstream: readonly string[] | undefined
  /** Where the network, its endpoints, addresses and ports are recorded. */
  readonly store: NetworkStore
  readonly #cfg: BridgeConfig
  readonly #local = new Map<string, Endpoint>()
  /** The private state the functions of bridge-connect.ts, bridge-inspect.ts and bridge-remove.ts use. */
  get #st(): BridgeInternals {
    return { cfg: this.#cfg, local: this.#local }
  }

  private constructor(ns: Namespace, store: NetworkStore, rec: NetworkRecord, bridge: Bridge) {
    const v4 = rec.pools.find((p) => p.family === 4)!
    const v6 = rec.pools.find((p) => p.family === 6)
    super({ name: rec.name, subnet: v4.subnet, gateway: v4.gateway })
    const cfg = bridgeConfig(rec)
    this.id = rec.id
    this.namespace = ns
    this.ipRange = v4.ipRange
    this.ipv6 = v6 ? { subnet: v6.subnet, gateway: v6.gateway } : undefined
    this.bridge = bridge
    this.mtu = cfg.mtu
    this.masquerade = cfg.masquerade
    this.icc = cfg.icc
    this.internal = cfg.internal
    this.dns = cfg.dns
    this.upstream = cfg.upstream && Object.freeze([...cfg.upstream])
    this.store = store
    this.#cfg = cfg
  }

  /** @internal The network of a ready record, whether its bridge is there or not (Network.open, list). */
  static async fromRecord(ns: Namespace, store: NetworkStore, rec: NetworkRecord, links?: Map<string, { index: number; kind: string }>): Promise<Network> {
    const name = bridgeConfig(rec).bridge
    const l = links ? links.get(name) : await runOne({ ns, op: 'link.get', name, object: name }).catch(() => undefined)
    return new Network(ns, store, rec, new Bridge(ns, name, l && l.kind === 'bridge' ? l.index : 0))
  }

  /**
   * `docker network create [--subnet S] [--gateway G] [--ip-range R] [--internal] [--ipv6 --subnet S6]
   * [-o com.docker.network.bridge.name=B] [-o com.docker.network.bridge.enable_icc=false]
   * [-o com.docker.network.driver.mtu=M] NAME`: the bridge (up, with a fixed MAC and the
   * gateway addresses), masquerading (unless internal), isolation, and the records. A failure
   * half-way removes what was made; a process killed half-way leaves an intent Network.gc() undoes.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad name, subnet, gateway, MTU or bridge name; an option of another driver).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_EXISTS` for a name in use; `ERR_NETNS_KIT_SUBNET_OVERLAP` for a subnet overlapping another network or a route; `ERR_NETNS_KIT_POOL_EXHAUSTED` when no free subnet is left; store errors (`ERR_NETNS_KIT_STORE*`).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). Everything made so far is removed.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static create(opts: NetworkCreateOptions): Promise<Network>
  /** `docker network create -d macvlan -o parent=P -o macvlan_mode=M --subnet S --gateway G NAME`: see MacvlanNetwork.create. */
  static create(opts: MacvlanNetworkOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork>
  /** `docker network create -d overlay --subnet S NAME` across the hosts of the agent's etcd: see OverlayNetwork.create. */
  static create(opts: OverlayNetworkOptions & { driver: 'overlay' }): Promise<OverlayNetwork>
  static async create(
    opts: NetworkCreateOptions | (MacvlanNetworkOptions & { driver: 'macvlan' }) | (OverlayNetworkOptions & { driver: 'overlay' }),
  ): Promise<AnyNetwork> {
    if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
    const driver = opts.driver
    if (driver === 'macvlan') return MacvlanNetwork.create(opts)
    if (driver === 'overlay') return OverlayNetwork.create(opts)
    if (driver !== undefined && driver !== 'bridge') throw invalidArg('opts.driver', driver, "must be 'bridge', 'macvlan' or 'overlay'")
    return Network.#createBridge(opts)
  }

  static async #createBridge(opts: NetworkCreateOptions): Promise<Network> {
    return createBridgeNetwork(opts, (ns, store, rec, bridge) => new Network(ns, store, rec, bridge))
  }

  /**
   * Docker's default network in one call (what dockerd makes at start): named 'bridge',
   * 172.17.0.0/16 with gateway 172.17.0.1 on the bridge `nk0` (pass bridgeName for another),
   * masquerade on, inter-container communication on, and no embedded DNS (containers on
   * the default bridge do not resolve each other's names).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_EXISTS`, `ERR_NETNS_KIT_SUBNET_OVERLAP` (172.17.0.0/16 taken), store errors.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async createDefault(opts: { namespace?: Namespace; store?: NetworkStore; bridgeName?: string; mtu?: number } = {}): Promise<Network> {
    return Network.create({
      name: 'bridge',
      subnet: '172.17.0.0/16',
      gateway: '172.17.0.1',
      bridgeName: opts.bridgeName ?? 'nk0',
      mtu: opts.mtu,
      namespace: opts.namespace,
      store: opts.store,
      dns: false,
    })
  }

  /**
   * An existing network by name (`docker network inspect NAME`), from its record: it opens
   * even when its bridge is gone (then `bridge.index` is 0). ERR_NETNS_KIT_NO_NETWORK when
   * there is none in that namespace, ERR_NETNS_KIT_NETWORK_NOT_READY while it is being created
   * or removed. A network of another driver than `driver` (default 'bridge') is
   * ERR_NETNS_KIT_WRONG_DRIVER; overlay networks are found through `agent`.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_NETWORK` when there is none by that name; `ERR_NETNS_KIT_NETWORK_NOT_READY` while a create is unfinished (gc finishes or undoes it); `ERR_NETNS_KIT_WRONG_DRIVER` when it has another driver than asked.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  static open(name: string, opts?: NetworkLookupOptions & { driver?: 'bridge' }): Promise<Network>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'overlay'; agent: OverlayAgent }): Promise<OverlayNetwork>
  static open(name: string, opts: NetworkLookupOptions & { driver: 'all' }): Promise<AnyNetwork>
  static async open(name: string, opts: NetworkLookupOptions = {}): Promise<AnyNetwork> {
    return openNetwork(name, opts, Network.fromRecord)
  }

  /**
   * `docker network ls`: the networks of the namespace (ready ones, bridge gone or not), by
   * name: the bridge driver's, or those of `driver` ('all': every driver's; overlay networks
   * through `agent`).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  static list(opts?: NetworkLookupOptions & { driver?: 'bridge' }): Promise<Network[]>
  static list(opts: NetworkLookupOptions & { driver: 'macvlan' }): Promise<MacvlanNetwork[]>
  static list(opts: NetworkLookupOptions & { driver: 'overlay'; agent: OverlayAgent }): Promise<OverlayNetwork[]>
  static list(opts: NetworkLookupOptions & { driver: 'all' }): Promise<AnyNetwork[]>
  static async list(opts: NetworkLookupOptions = {}): Promise<AnyNetwork[]> {
    return listNetworks(opts, Network.fromRecord)
  }

  /**
   * `--network host`: the host's own namespace (the current one, or `namespace`); nothing is created.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async host(opts: { namespace?: Namespace } = {}): Promise<Namespace> {
    return defaultNamespace(opts.namespace)
  }

  /**
   * `--network none`: a new named namespace (`ip netns add NAME`) with only loopback, up.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NAMESPACE_EXISTS` when a namespace by that name exists.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  static async none(name?: string): Promise<Namespace> {
    return Namespace.create(name ?? `nk-${randomBytes(4).toString('hex')}`, { loopback: true })
  }

  /**
   * `--network container:X`: the namespace of an endpoint's container, of a process (pid), or
   * the given namespace itself: a second container there shares its interfaces and addresses.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NO_NAMESPACE` when the endpoint's namespace or the process is gone.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  static async container(target: Endpoint | Namespace | number): Promise<Namespace> {
    if (target instanceof Endpoint) return target.namespace
    if (target instanceof Namespace) return target
    if (typeof target === 'number') return Namespace.fromPid(target)
    throw invalidArg('target', target, 'must be an Endpoint, a Namespace or a pid', 'ERR_INVALID_ARG_TYPE')
  }

  /**
   * `docker network inspect`: the configuration and the endpoints (as recorded). Reads every endpoint record.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async inspect(): Promise<{
    name: string
    id: string
    bridge: string
    subnet: string
    gateway: string
    ipRange?: string
    ipv6?: { subnet: string; gateway: string }
    mtu?: number
    masquerade: boolean
    icc: boolean
    internal: boolean
    dns: boolean
    endpoints: { name: string; ip: string; ip6?: string; mac: string; ports: { protocol: string; hostIp: string; hostPort: number; containerPort: number }[] }[]
  }> {
    return inspectNetwork(this)
  }

  /**
   * `docker network connect [--ip IP] [--alias A] NETWORK CONTAINER` (and `docker run -p/-P`):
   * one store transaction records the intent (`connecting`) and claims the name, the address,
   * the interface names and the host ports; then one trip to the native layer makes a veth whose
   * peer is born as `ifname` inside `ns` and whose host end is on the bridge, up, with the alias
   * `netns-kit:<network>:<id>`, the address and the default route; then the port mappings and
   * the resolver; the record becomes `connected` last. All or nothing: a failure removes what was
   * made and gives everything claimed back; a process killed half-way leaves an intent that
   * Network.gc() undoes.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad name, address, MAC, interface name or port).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_ENDPOINT_EXISTS` (the name is taken), `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED`, `ERR_NETNS_KIT_PORT_ALLOCATED`, `ERR_NETNS_KIT_IFNAME_IN_USE`, `ERR_NETNS_KIT_NO_BRIDGE` (the bridge was deleted), `ERR_NETNS_KIT_NETWORK_FULL` (its bridge has 1,023 ports, the most Linux takes: the kernel's EXFULL is the `cause`), `ERR_NETNS_KIT_NO_NAMESPACE`, store errors. Everything claimed or made so far is given back.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). Everything made so far is removed.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async connect(ns: Namespace, opts: ConnectOptions = {}): Promise<Endpoint> {
    return connectEndpoint(this, this.#st, ns, opts)
  }

  /**
   * Serves the endpoints connected by another process (or before a restart) whose namespaces
   * are still there. With a companion, makes sure it runs (it serves them all) and returns 0;
   * else starts their resolvers in this process and returns how many it started.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached.
   */
  async restoreDns(): Promise<number> {
    if (!this.dns) return 0
    const companion = await companionFor(this.namespace, this.store)
    if (companion) {
      await companion.ensure()
      return 0
    }
    return restoreResolvers(this)
  }

  /**
   * `docker network disconnect NETWORK CONTAINER`: removes the endpoint's published ports (and
   * their UDP conntrack entries), its veth, its resolver, its address and its record. Works
   * when the container's namespace is gone (an endpoint from `network.endpoint()`).
   * Idempotent; concurrent calls (in this process or others) all resolve.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (not an endpoint of this network).
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`) (what is already gone is not an error: disconnect() is idempotent).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async disconnect(endpoint: Endpoint): Promise<void> {
    return disconnectEndpoint(this, this.#st, endpoint)
  }

  /**
   * One endpoint by its name or by its CNI attachment (`containerId` and `ifname`), as recorded
   * by any process: an O(log n) lookup, whatever its state (a connect or disconnect in
   * progress, or one whose process died, is found too: disconnect() finishes or undoes it). Its
   * namespace is opened by path (close() it when done); when the namespace is gone,
   * `endpoint.namespace` is one that refuses every call as gone, and `disconnect()` still works.
   * Undefined when there is none.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async endpoint(q: { name: string } | { containerId: string; ifname: string }): Promise<Endpoint | undefined> {
    return findEndpoint(this, this.#st, q)
  }

  /**
   * The endpoints connected to this network (as recorded, by any process). Those connected
   * by this Network object come back as the same objects; for the others, the namespace is
   * opened by path (close() it when done). Endpoints whose namespace is gone are left out
   * (Network.gc() removes them). Reads every endpoint record: not for a hot path.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async endpoints(): Promise<Endpoint[]> {
    return listEndpoints(this, this.#st)
  }

  /**
   * `docker network rm NAME`: refused (ERR_NETNS_KIT_NETWORK_IN_USE) while endpoints are
   * connected unless `force` (which disconnects them first); endpoints whose container
   * namespace is gone do not count (they are disconnected); then removes the rules, the bridge
   * and the records this network made. Works when the bridge or the containers' namespaces are
   * gone. Idempotent.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_NETWORK_IN_USE` while endpoints are connected (unless `force`); store errors.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    const force = checkBool(opts?.force, 'opts.force') ?? false
    return removeNetwork(this, this.#st, force)
  }

  /**
   * Releases what it owns at the end of an `await using` scope; safe to call twice.
   * @throws As remove({ force: true }).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove({ force: true })
  }

  /**
   * CNI CHECK: what differs between the network's records and the kernel, without changing
   * anything: the bridge and its endpoints' host veths, netns-kit's tables and base rules, the
   * network's masquerade, isolation and hairpin, its endpoints' published ports and anti-spoofing
   * elements, forwarding (off: a problem unless the network is internal) and route_localnet.
   * An empty list: all is as recorded. Network.gc() puts back what is missing.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). (reading the kernel's links, tables and sysctls).
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async check(): Promise<Problem[]> {
    return checkNetwork(this)
  }

  /**
   * `docker network prune`-like repair after a crash, in the host namespace (see GcOptions):
   * finishes or undoes the intents (create, connect, disconnect, remove) whose process died,
   * disconnects endpoints whose namespace is gone, and removes links and rules of netns-kit's
   * that no record owns. Intents of live processes are never touched: gc runs safely while
   * other processes connect. Reports what it removed.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`).
   */
  static async gc(opts: GcOptions = {}): Promise<GcReport> {
    return gc(opts)
  }

  /**
   * A short label for logs and messages.
   * @throws Nothing: it only reads this object's fields.
   */
  override toString(): string {
    return `Network(${this.name} ${this.subnet} on ${this.bridge.name})`
  }
}
