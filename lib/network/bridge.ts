// Network: Docker-style networks. This file is the bridge driver (a bridge, its NAT and isolation
// rules, endpoints wired to the bridge, Docker's modes and embedded name resolution); Network.create,
// open and list also hand out the macvlan and overlay drivers' networks (lib/network/macvlan.ts,
// overlay.ts), peers through lib/network/driver.ts. State the kernel cannot hold goes to a
// NetworkStore (lib/ipam), intent first and result last (docs/STATE-STORE.md): connect's kernel trip
// is built in #wiring(), teardown happens in lib/network/teardown.ts, repair in lib/network/gc.ts.
import { randomBytes } from 'node:crypto'
import { Bridge } from '../bridge'
import { NetnsKitError, invalidArg } from '../errors'
import {
  prefixesInUse,
  type EndpointRecord,
  type GatewayMove,
  type NetworkRecord,
  type NetworkStore,
  type PoolSpec,
  type PortRecord,
  type PortSpec,
} from '../ipam'
import { parsePrefix } from '../ipam/ip'
import { handleOf } from '../kernel/handles'
import { createdBefore, listLinks, run, runOne, type Op } from '../kernel/rtnl'
import {
  NatRule,
  checkNetworkNat,
  createNetworkNat,
  enableForwarding,
  guardPort,
  newNetworkIds,
  networkIdsToList,
  readHostPorts,
  type HostClaim,
  type Problem,
  type PublishOptions,
} from '../nat'
import { Namespace, defaultNamespace } from '../namespace'
import { checkBool } from '../validate'
import { noIpv6 } from '../veth'
import { checkConnectOptions, checkCreateOptions, publishFamily, type CheckedConnect, type ConnectOptions, type NetworkCreateOptions } from './bridge-options'
import { dnsService, restoreResolvers } from './dns'
import { DriverNetwork, containerIfname } from './driver'
import { Endpoint } from './endpoint'
import { gc, type GcOptions, type GcReport } from './gc'
import { listNetworks, openNetwork, type AnyNetwork, type NetworkLookupOptions } from './lookup'
import { MacvlanNetwork, type MacvlanNetworkOptions } from './macvlan'
import { randomMac, macForIp } from './mac'
import { guardedPort, networkNat } from './nat-state'
import { bridgeAlias, linkAlias } from './owned'
import { OverlayNetwork, type OverlayNetworkOptions } from './overlay'
import type { OverlayAgent } from './overlay-agent'
import { bridgeConfig, identity, nsAlive, openRecorded, storeOf, type BridgeConfig } from './state'
import { applyMoves, disconnectAll, disconnectSequence, teardownBridgeEndpoint, teardownBridgeNetwork } from './teardown'
import { companionFor, syncCompanion } from './companion'
import { etcFilesAfter } from './etc-files'

function prefixLen(cidr: string): number {
  return Number(cidr.split('/')[1])
}

/** How often a connect starts again when a host port the store chose for -P is held in the kernel by a mapping it does not know. */
const PORT_RETRIES = 8

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
    const o = checkCreateOptions(opts)
    const { name } = o
    const store = storeOf(opts.store)
    if (opts.subnet !== undefined && parsePrefix(opts.subnet, 'opts.subnet').family !== 4)
      throw invalidArg('opts.subnet', opts.subnet, 'must be an IPv4 subnet (IPv6 goes in opts.ipv6)')
    if (opts.subnet === undefined && (opts.gateway !== undefined || opts.ipRange !== undefined)) {
      throw invalidArg(opts.gateway !== undefined ? 'opts.gateway' : 'opts.ipRange', opts.gateway ?? opts.ipRange, 'needs opts.subnet')
    }
    if (opts.ipv6 !== undefined && (!opts.ipv6 || typeof opts.ipv6 !== 'object'))
      throw invalidArg('opts.ipv6', opts.ipv6, 'must be an object { subnet, gateway? }', 'ERR_INVALID_ARG_TYPE')
    const ns = await defaultNamespace(opts.namespace)
    // The bridge's name is chosen before anything is recorded: a process killed from here on leaves it findable.
    const generated = o.bridgeName === undefined
    const bridgeName = o.bridgeName ?? `br-${randomBytes(6).toString('hex')}`
    const pools: PoolSpec[] = [
      opts.subnet !== undefined
        ? { family: 4, subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange }
        : { auto: true, exclude: await prefixesInUse(ns, 4) },
      ...(opts.ipv6 ? [{ family: 6 as const, subnet: opts.ipv6.subnet, gateway: opts.ipv6.gateway }] : []),
    ]
    const config: Record<string, unknown> = {
      bridge: bridgeName,
      masquerade: o.masquerade,
      icc: o.icc,
      internal: o.internal,
      antiSpoofing: o.antiSpoofing,
      dns: o.dns,
    }
    if (generated) config.generated = true
    if (o.mtu !== undefined) config.mtu = o.mtu
    if (o.upstream !== undefined) config.upstream = o.upstream
    // The ids of its masquerade rules (one per subnet, in the order of the pools) and isolation
    // elements, in its configuration: check() and gc find them by role, whatever order a store lists rules in.
    const ids = newNetworkIds({ subnets: pools.map(() => ''), masquerade: o.masquerade, internal: o.internal })
    config.nat = ids
    // 1. The intent: name and subnets claimed (ERR_NETNS_KIT_NETWORK_EXISTS, _SUBNET_OVERLAP, _POOL_EXHAUSTED).
    const net = await store.beginCreateNetwork({ name, driver: 'bridge', host: identity(ns), pools, config })
    const cfg = bridgeConfig(net)
    const rules: string[] = []
    try {
      // 2. The kernel. First the network's isolation, hairpin and masquerade (ids recorded before
      // the batch, so a kill after it leaves nothing the record does not name): keyed by the
      // bridge's name, they are in place before the bridge exists, which never forwards a packet
      // unisolated. Then the bridge (up, a fixed MAC), then, by its index (never by name: a link of
      // that name could be someone else's), its alias and addresses. A kill between the two trips
      // leaves a bridge without an alias, with the name the intent recorded: gc takes it as this
      // network's when netns-kit drew the name.
      const v4 = net.pools.find((p) => p.family === 4)!
      const v6 = net.pools.find((p) => p.family === 6)
      rules.push(...networkIdsToList(ids))
      await store.addRules({ networkId: net.id }, networkIdsToList(ids))
      await createNetworkNat(ns, networkNat(net, [], ids))
      const [, l] = await run([
        { ns, op: 'link.create', kind: 'bridge', name: bridgeName, mtu: o.mtu, mac: randomMac(), up: true, object: bridgeName },
        { ns, op: 'link.get', name: bridgeName, object: bridgeName },
      ] as const).catch(async (e: unknown) => {
        // Ours only if the create took effect (EEXIST: a link of that name that is someone else's).
        if (createdBefore(e)) await runOne({ ns, op: 'link.delete', name: bridgeName, ignoreMissing: true }).catch(() => {})
        throw e
      })
      await run([
        { ns, op: 'link.set', index: l.index, alias: bridgeAlias(name), object: bridgeName },
        { ns, op: 'addr.add', index: l.index, address: v4.gateway, prefixLength: prefixLen(v4.subnet), object: `${v4.gateway} on ${bridgeName}` },
        ...(v6
          ? [
              {
                ns,
                op: 'addr.add' as const,
                index: l.index,
                address: v6.gateway,
                prefixLength: prefixLen(v6.subnet),
                nodad: true,
                object: `${v6.gateway} on ${bridgeName}`,
              },
            ]
          : []),
      ])
      const bridge = new Bridge(ns, l.name, l.index)
      // 3. The result.
      return new Network(ns, store, await store.finishCreateNetwork(net.id), bridge)
    } catch (e) {
      await teardownBridgeNetwork(ns, { ...net, rules }, cfg).catch(() => {})
      await store.abortCreateNetwork(net.id).catch(() => {})
      throw e
    }
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
    const eps = (await this.store.endpoints(this.id))
      .filter((e) => e.state === 'connected')
      .map((r) => {
        const ip = r.addresses.find((a) => a.family === 4)?.address ?? ''
        const ip6 = r.addresses.find((a) => a.family === 6)?.address
        return {
          name: r.name,
          ip,
          ...(ip6 ? { ip6 } : {}),
          mac: r.mac ?? macForIp(ip),
          ports: r.ports.map((p) => ({ protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort })),
        }
      })
    return {
      name: this.name,
      id: this.id,
      bridge: this.bridge.name,
      subnet: this.subnet,
      gateway: this.gateway,
      ipRange: this.ipRange,
      ipv6: this.ipv6,
      mtu: this.mtu,
      masquerade: this.masquerade,
      icc: this.icc,
      internal: this.internal,
      dns: this.dns,
      endpoints: eps,
    }
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
   * @throws {NetnsKitError} `ERR_NETNS_KIT_ENDPOINT_EXISTS` (the name is taken), `ERR_NETNS_KIT_IP_IN_USE`, `ERR_NETNS_KIT_IP_OUTSIDE_SUBNET`, `ERR_NETNS_KIT_IP_RESERVED`, `ERR_NETNS_KIT_POOL_EXHAUSTED`, `ERR_NETNS_KIT_PORT_ALLOCATED`, `ERR_NETNS_KIT_IFNAME_IN_USE`, `ERR_NETNS_KIT_NO_BRIDGE` (the bridge was deleted), `ERR_NETNS_KIT_NO_NAMESPACE`, store errors. Everything claimed or made so far is given back.
   * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). Everything made so far is removed.
   * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
   */
  async connect(ns: Namespace, opts: ConnectOptions = {}): Promise<Endpoint> {
    if (!(ns instanceof Namespace)) throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
    handleOf(ns) // closed or deleted: refused before anything is made
    const o = checkConnectOptions(opts, this.name, this.ipv6 !== undefined)
    if (ns.equals(this.namespace)) throw invalidArg('ns', ns.name ?? ns.path, "is the network's host namespace: use Network.host() for host networking")
    // An internal network has no way in from outside: a published port there would be listed and never reachable.
    if (this.internal && o.publish.length) throw invalidArg('opts.publish', opts.publish, `cannot publish ports on the internal network '${this.name}'`)
    if (this.bridge.index === 0) {
      throw new NetnsKitError(
        'ERR_NETNS_KIT_NO_BRIDGE',
        `the bridge ${this.bridge.name} of the network '${this.name}' is gone: remove the network (remove() works without it) and create it again`,
      )
    }
    // A MAC another endpoint of this bridge has (given, or derived from its address) would steal its frames.
    if (o.mac !== undefined) {
      const mac = o.mac.toLowerCase()
      const twin = (await this.store.endpoints(this.id)).find((e) => {
        const v4 = e.addresses.find((a) => a.family === 4)?.address
        return (e.mac ?? (v4 ? macForIp(v4) : '')).toLowerCase() === mac
      })
      if (twin)
        throw new NetnsKitError(
          'ERR_NETNS_KIT_MAC_IN_USE',
          `the MAC address ${o.mac} is already used by the endpoint '${twin.name}' of the network '${this.name}'`,
        )
    }
    const exclude = new Set<number>()
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#connect(ns, o, exclude)
      } catch (e) {
        const port = (e as { chosenPort?: number }).chosenPort
        if (port === undefined || attempt >= PORT_RETRIES) throw e
        exclude.add(port) // the store's cursor moves on too
      }
    }
  }

  async #connect(ns: Namespace, o: CheckedConnect, exclude: Set<number>): Promise<Endpoint> {
    const store = this.store
    const host = this.namespace
    const id = randomBytes(6).toString('hex')
    const { ports, checkHost } = await this.#portSpecs(o.publish, exclude)
    // 1. The intent, in one transaction: the endpoint `connecting`, its name, interfaces, CNI key,
    // addresses and host ports claimed, and whether it gives the container its default route.
    // A second network gets the next free ethN (docker network connect); a given name the container has is refused here.
    const ifname = await containerIfname(ns, o.ifname)
    const { endpoint: rec, moves } = await store.beginConnect(this.id, {
      id,
      name: o.name ?? `ep-${id}`,
      aliases: o.aliases,
      ...(o.hostname !== undefined ? { hostname: o.hostname } : {}),
      ns: identity(ns),
      ...ifname,
      hostIf: `veth${id.slice(0, 7)}`,
      ...(o.mac !== undefined ? { mac: o.mac } : {}),
      ...(o.containerId !== undefined ? { containerId: o.containerId } : {}),
      addresses: [{ family: 4, ip: o.ip }, ...(this.ipv6 ? [{ family: 6 as const, ip: o.ip6 }] : [])],
      gatewayPriority: this.internal || !o.defaultRoute ? null : (o.gatewayPriority ?? 0),
      ports,
      ...(o.dns ? { dns: o.dns } : {}),
      ...(o.extraHosts.length ? { extraHosts: o.extraHosts.map((h) => ({ name: h.name, ip: h.ip === 'host-gateway' ? this.gateway : h.ip })) } : {}),
    })
    const dns = dnsService()
    let rules: NatRule[] = []
    let mappings: PublishOptions[] = []
    let companion: Awaited<ReturnType<typeof companionFor>>
    const nsId = identity(ns)
    try {
      // A given host port a host process holds: Docker's "address already in use", before the
      // kernel is touched (and before the companion reserves it).
      await checkHost()
      // 2. The kernel: one trip, the companion, then the mappings (recorded at once), then the resolver.
      const mac = rec.mac ?? macForIp(rec.addresses[0]!.address)
      // Forwarding, which another tool may have turned off since the network was made.
      if (!this.internal) for (const f of this.ipv6 ? ([4, 6] as const) : ([4] as const)) await enableForwarding(host, f)
      // Anti-spoofing before the port exists (its elements are keyed by the port's name): no
      // moment where the container's port forwards unfiltered frames.
      const guarded = this.#cfg.antiSpoofing ? guardedPort({ ...rec, mac }) : undefined
      if (guarded) await guardPort(host, guarded)
      await run(this.#wiring(ns, { ...rec, mac }, moves))
      // The companion (DNS or published ports), once the container's loopback is up: the host ports
      // bound and the container's resolver listening BEFORE any DNAT element exists, so a port is
      // never published unreserved.
      if (this.dns || rec.ports.length) {
        companion = await companionFor(host, store)
        try {
          await companion?.prepare(id)
        } catch (e) {
          // A port the store chose (docker -P) held by a host process: connect again without it.
          const { port, protocol } = e as { port?: number; protocol?: string }
          const given = o.publish.some((p) => p.protocol === protocol && p.hostPort === port)
          if ((e as { code?: string }).code === 'EADDRINUSE' && port !== undefined && !given) (e as { chosenPort?: number }).chosenPort = port
          throw e
        }
      }
      if (rec.ports.length) {
        try {
          mappings = rec.ports.map((p) => this.#mapping(rec, p, o.publish))
          rules = await NatRule.publishMany(mappings)
        } catch (e) {
          // A port the store chose (docker -P) held in the kernel by a mapping the store does not know: connect again without it.
          const m =
            (e as { code?: string }).code === 'ERR_NETNS_KIT_PORT_ALLOCATED'
              ? /:(\d+)(?:-\d+)?\/(tcp|udp|sctp) is already published/.exec((e as Error).message)
              : null
          const given = (proto: string, port: number) => o.publish.some((p) => p.protocol === proto && p.hostPort === port)
          if (m && !given(m[2]!, Number(m[1]))) (e as { chosenPort?: number }).chosenPort = Number(m[1])
          throw e
        }
        await store.addRules(
          { networkId: this.id, endpointId: id },
          rules.map((r) => r.id),
        )
      }
      if (this.dns && !companion) await dns.start(this, ns, rec)
      // A named container's files for ip netns exec and ns.spawn.
      await etcFilesAfter(store, nsId)
      // 3. The result (which rule is which port's: the store lists rule ids in its own order, and
      // which of them answer on 127.0.0.1 too: check() and gc put back what was made); the
      // companion serves the names before connect returns.
      const done = await store.finishConnect(id, {
        mac,
        ...(rules.length ? { config: { ...rec.config, portRules: rules.map((r) => r.id), portLocalhost: mappings.map((m) => m.localhost === true) } } : {}),
      })
      await companion?.sync().catch(() => {})
      const ep = new Endpoint(this, ns, done)
      this.#local.set(id, ep)
      return ep
    } catch (e) {
      await dns.stop(this.id, id).catch(() => {})
      await teardownBridgeEndpoint(host, this.name, this.#cfg, { ...rec, rules: rules.map((r) => r.id) }).catch(() => {})
      // The endpoints that gave their default route to this one take it back.
      await applyMoves(await store.abortConnect(id).catch(() => [] as GatewayMove[])).catch(() => {})
      await etcFilesAfter(store, nsId).catch(() => {})
      // Its reservations released before the caller hears of the failure (and tries again).
      await companion?.sync().catch(() => {})
      throw e
    }
  }

  /**
   * The store's port specs of a connect's publish entries, with the host's own ports respected:
   * `checkHost()` refuses a given port a host socket holds with ERR_NETNS_KIT_PORT_ALLOCATED
   * (Docker's "address already in use"), before the kernel is touched; -P picks from
   * ip_local_port_range, skipping ports host sockets hold and ip_local_reserved_ports. Without
   * hostIp a mapping covers both families on a dual-stack network (one port, two claims).
   */
  async #portSpecs(publish: CheckedConnect['publish'], exclude: Set<number>): Promise<{ ports: PortSpec[]; checkHost: () => Promise<void> }> {
    if (!publish.length) return { ports: [], checkHost: async () => {} }
    const fams = publish.map((p) => publishFamily(p.hostIp, this.ipv6 !== undefined))
    const claims: HostClaim[] = publish.map((p, i) => ({
      protocol: p.protocol,
      ...(p.hostPort !== undefined ? { ports: [p.hostPort, p.hostPort] as [number, number] } : {}),
      addresses: p.hostIp !== undefined ? [p.hostIp] : fams[i]!.dualStack ? ['0.0.0.0', '::'] : ['0.0.0.0'],
    }))
    const hp = await readHostPorts(this.namespace, claims)
    const ports = publish.map((p, i) => ({
      protocol: p.protocol,
      family: fams[i]!.family,
      ...(fams[i]!.dualStack ? { dualStack: true } : {}),
      ...(p.hostIp !== undefined ? { hostIp: p.hostIp } : {}),
      ...(p.hostPort !== undefined ? { hostPort: p.hostPort } : { range: hp.range, exclude: [...new Set([...exclude, ...hp.exclude(claims[i]!)])] }),
      containerPort: p.containerPort,
    }))
    // The given ports are checked once the store has claimed them: a port another endpoint
    // publishes is refused by the store first, naming that endpoint (its reservation, with a
    // companion, is a host socket too).
    return {
      ports,
      checkHost: async () => {
        for (const c of claims) await hp.check(c)
      },
    }
  }

  /**
   * The NatRule mapping of one recorded port: to the container's address of its family; without
   * host address (or on 0.0.0.0) an IPv4 mapping also answers on the host's 127.0.0.1 (as Docker) unless the
   * entry said `localhost: false`. IPv6 has no such thing: the kernel never routes ::1 off the host.
   */
  #mapping(rec: EndpointRecord, p: PortRecord, publish: CheckedConnect['publish']): PublishOptions & { namespace: Namespace } {
    const to = rec.addresses.find((a) => a.family === p.family)!.address
    const wildcard = p.hostIp === '0.0.0.0' || p.hostIp === '::'
    const entry = publish.find(
      (e) =>
        e.protocol === p.protocol &&
        e.containerPort === p.containerPort &&
        (e.hostPort === undefined || e.hostPort === p.hostPort) &&
        (e.hostIp === undefined ? wildcard : e.hostIp === p.hostIp),
    )
    const localhost = p.family === 4 && wildcard && entry?.localhost !== false
    return {
      namespace: this.namespace,
      protocol: p.protocol,
      ...(wildcard ? {} : { hostIp: p.hostIp }),
      hostPort: p.hostPort,
      containerIp: to,
      containerPort: p.containerPort,
      ...(localhost ? { localhost: true } : {}),
      // Checked by #portSpecs' checkHost(); a companion's reservations of them are host sockets.
      hostSockets: false,
    }
  }

  /**
   * The one trip that wires a container: the veth, its port flags, the addresses, the default
   * routes (for the families this endpoint provides them; replacing another endpoint's route
   * where it took the route over).
   */
  #wiring(ns: Namespace, rec: EndpointRecord & { mac: string }, moves: GatewayMove[]): Op[] {
    const host = this.namespace
    const hostIf = rec.hostIf!
    const { ifname } = rec
    const a4 = rec.addresses.find((a) => a.family === 4)!
    const a6 = rec.addresses.find((a) => a.family === 6)
    const route = (a: typeof a4, provides: boolean): Op[] => {
      if (!provides) return []
      const replace = moves.some((m) => m.family === a.family && !m.provides)
      return [
        {
          ns,
          op: replace ? ('route.replace' as const) : ('route.add' as const),
          family: a.family,
          dstLength: 0,
          gateway: a.gateway,
          object: `default via ${a.gateway}`,
        },
      ]
    }
    return [
      {
        ns: host,
        op: 'link.create',
        kind: 'veth',
        name: hostIf,
        mtu: this.mtu,
        master: this.bridge.index,
        object: hostIf,
        peer: { name: ifname, mtu: this.mtu, mac: rec.mac, target: ns },
      },
      // The bridge port carries no IPv6 of its own (IPv6 is still bridged): no link-local address,
      // route and multicast state per port, which made each new port cost more than the last.
      noIpv6(host, hostIf),
      // The kernel ignores IFLA_IFALIAS in a creating RTM_NEWLINK: set it (and port isolation) next.
      // Hairpin mode, as Docker sets it: where br_netfilter is on, the answer to a container reaching
      // its own published port is bridged back out the port it came in on.
      {
        ns: host,
        op: 'link.set',
        name: hostIf,
        alias: linkAlias(this.name, rec.id),
        hairpin: true,
        ...(this.icc ? {} : { isolated: true }),
        object: `${hostIf} (port of ${this.bridge.name})`,
      },
      // Up once isolated (icc=false): no moment where the port forwards to the others.
      { ns: host, op: 'link.set', name: hostIf, up: true, object: hostIf },
      // On an IPv4-only network the container's interface has no IPv6 either (Docker's choice):
      // no link-local address, DAD or MLD reports flooded to every port of the bridge.
      ...(a6 ? [] : [noIpv6(ns, ifname)]),
      // Loopback up (a namespace made by `ip netns add` has it down): the resolver binds 127.0.0.11.
      { ns, op: 'link.set', name: 'lo', up: true, object: 'lo' },
      { ns, op: 'link.set', name: ifname, up: true, object: ifname },
      { ns, op: 'addr.add', linkName: ifname, address: a4.address, prefixLength: a4.prefixLength, object: `${a4.address}/${a4.prefixLength} on ${ifname}` },
      ...(a6
        ? [
            {
              ns,
              op: 'addr.add' as const,
              linkName: ifname,
              address: a6.address,
              prefixLength: a6.prefixLength,
              nodad: true,
              object: `${a6.address}/${a6.prefixLength} on ${ifname}`,
            },
          ]
        : []),
      ...route(a4, rec.gateway4),
      ...(a6 ? route(a6, rec.gateway6) : []),
    ]
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
    if (!(endpoint instanceof Endpoint)) throw invalidArg('endpoint', endpoint, 'must be an Endpoint', 'ERR_INVALID_ARG_TYPE')
    if (endpoint.network.id !== this.id) throw invalidArg('endpoint', String(endpoint), `is not an endpoint of the network '${this.name}'`)
    let nsId: EndpointRecord['ns'] | undefined
    await disconnectSequence(this.store, endpoint.id, (ep) => {
      nsId = ep.ns
      return this.#teardown(ep)
    })
    this.#local.delete(endpoint.id)
    await this.#after(nsId ? [nsId] : [])
  }

  async #teardown(ep: EndpointRecord): Promise<void> {
    await dnsService().stop(this.id, ep.id)
    await teardownBridgeEndpoint(this.namespace, this.name, this.#cfg, ep)
  }

  /**
   * After endpoints went: their containers' /etc/netns files brought up to date, and the
   * companion (if one runs) caught up, so their host ports are free when the call returns.
   */
  async #after(namespaces: EndpointRecord['ns'][]): Promise<void> {
    for (const n of namespaces) await etcFilesAfter(this.store, n).catch(() => {})
    await syncCompanion(this.namespace, this.store)
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
    if (!q || typeof q !== 'object') throw invalidArg('query', q, 'must be { name } or { containerId, ifname }', 'ERR_INVALID_ARG_TYPE')
    let r: EndpointRecord | undefined
    if ('containerId' in q) {
      if (typeof q.containerId !== 'string' || typeof q.ifname !== 'string')
        throw invalidArg('query', q, 'must be { containerId: string, ifname: string }', 'ERR_INVALID_ARG_TYPE')
      r = await this.store.endpointByContainer(this.id, q.containerId, q.ifname)
    } else {
      if (typeof q.name !== 'string') throw invalidArg('query.name', q.name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
      r = await this.store.endpointByName(this.id, q.name)
    }
    if (!r) return undefined
    const mine = this.#local.get(r.id)
    if (mine) return mine
    return new Endpoint(this, await openRecorded(r.ns), r)
  }

  /**
   * The endpoints connected to this network (as recorded, by any process). Those connected
   * by this Network object come back as the same objects; for the others, the namespace is
   * opened by path (close() it when done). Endpoints whose namespace is gone are left out
   * (Network.gc() removes them). Reads every endpoint record: not for a hot path.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_STORE`, `ERR_NETNS_KIT_STORE_BUSY` or `ERR_NETNS_KIT_STORE_UNAVAILABLE` when the state store fails.
   */
  async endpoints(): Promise<Endpoint[]> {
    const out: Endpoint[] = []
    for (const r of await this.store.endpoints(this.id)) {
      if (r.state !== 'connected') continue
      const mine = this.#local.get(r.id)
      if (mine) {
        out.push(mine)
        continue
      }
      if (!nsAlive(r.ns)) continue
      const ns = await openRecorded(r.ns)
      if (handleAlive(ns)) out.push(new Endpoint(this, ns, r))
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
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
    const store = this.store
    // Endpoints whose container namespace is gone are not in use: disconnected first (as gc
    // would), so that a deleted container does not block `docker network rm`.
    if (!force) {
      const dead = (await store.endpoints(this.id).catch(() => [] as EndpointRecord[])).filter((r) => r.state === 'connected' && !nsAlive(r.ns))
      for (const r of dead) await disconnectSequence(store, r.id, (ep) => this.#teardown(ep))
      if (dead.length) await this.#after(dead.map((r) => r.ns))
    }
    let start
    try {
      start = await store.beginRemoveNetwork(this.id, { force })
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_NETNS_KIT_NO_NETWORK') return
      throw e
    }
    // Together (16 at a time): their veths go in batches, one grace period each (reaper.ts).
    await disconnectAll(
      store,
      start.endpoints.map((e) => e.id),
      (ep) => this.#teardown(ep),
    )
    await teardownBridgeNetwork(this.namespace, start.network, this.#cfg)
    await store.finishRemoveNetwork(this.id)
    await dnsService().forget(this.id)
    this.#local.clear()
    await this.#after(start.endpoints.map((e) => e.ns))
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
    const rec = await this.store.network(this.id)
    if (!rec || rec.state !== 'ready')
      throw new NetnsKitError('ERR_NETNS_KIT_NO_NETWORK', `the network '${this.name}' is not there (removed, or being created or removed)`)
    const eps = (await this.store.endpoints(this.id)).filter((e) => e.state === 'connected')
    const links = new Map((await listLinks(this.namespace)).map((l) => [l.name, l]))
    const problems: Problem[] = []
    const br = links.get(this.bridge.name)
    if (!br || br.kind !== 'bridge')
      problems.push({ kind: 'missing', object: `link ${this.bridge.name}`, message: `the bridge ${this.bridge.name} is missing` })
    for (const e of eps) {
      const l = e.hostIf ? links.get(e.hostIf) : undefined
      if (e.hostIf && !l)
        problems.push({ kind: 'missing', object: `link ${e.hostIf}`, message: `the host end ${e.hostIf} of the endpoint '${e.name}' is missing` })
      else if (l && br && l.master !== br.index)
        problems.push({ kind: 'different', object: `link ${e.hostIf}`, message: `${e.hostIf} (endpoint '${e.name}') is not a port of ${this.bridge.name}` })
    }
    problems.push(...(await checkNetworkNat(this.namespace, networkNat(rec, eps))))
    return problems
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

function handleAlive(ns: Namespace): boolean {
  try {
    handleOf(ns)
    return true
  } catch {
    return false
  }
}
