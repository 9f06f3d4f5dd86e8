// Docker's macvlan driver: each endpoint is a macvlan on a parent device, created directly inside the
// container's namespace with its own MAC and an address from IPAM; the gateway is a router on the
// parent's network (not ours: it is only reserved in IPAM). The network is recorded (parent, mode)
// so Network.open and list find it; endpoints are not recorded, and there are no published ports,
// embedded DNS or gc for this driver (connect options for them are refused as unsupported).
import { NetnsKitError, invalidArg } from '../errors'
import { FileStore, Ipam, checkNetworkName, type IpamNetwork, type IpamStore } from '../ipam'
import { contains, formatPrefix, parseIp, parsePrefix } from '../ipam/ip'
import { Link } from '../link'
import { Macvlan } from '../macvlan'
import { defaultNamespace, type Namespace } from '../namespace'
import type { MacvlanMode } from '../types'
import { checkIfName } from '../validate'
import { DriverNetwork, NetworkEndpoint, checkConnectOptions, type ConnectOptionsBase } from './driver'
import { macForIp } from './mac'
import { driverOf, identity, recordsIn, type MacvlanNetworkRecord } from './records'

const MODES = ['bridge', 'private', 'vepa', 'passthru'] as const
/** Makes each endpoint's owner id unique within this process. */
let counter = 0

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
  /** Where IPAM keeps its records (default: the FileStore under /run/netns-kit). */
  store?: IpamStore
}

/** One container on a macvlan network. */
export class MacvlanEndpoint extends NetworkEndpoint {
  /** A macvlan has no host end. */
  declare readonly hostInterface: undefined

  /** @internal */
  constructor(readonly network: MacvlanNetwork, namespace: Namespace, readonly link: Macvlan, ip: string,
    prefixLength: number, mac: string, gateway: string, readonly owner: string) {
    super({ namespace, id: owner, ip, prefixLength, mac, gateway, ifname: link.name, hostInterface: undefined })
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
  readonly parent: Link
  readonly mode: MacvlanMode
  readonly ipam: Ipam
  readonly store: IpamStore

  private constructor(name: string, parent: Link, mode: MacvlanMode, pool: { subnet: string; gateway: string }, store: IpamStore) {
    super({ name, subnet: pool.subnet, gateway: pool.gateway })
    this.parent = parent
    this.mode = mode
    this.store = store
    this.ipam = new Ipam({ store })
  }

  /** The namespace of the parent device (where the network is recorded). */
  get namespace(): Namespace { return this.parent.namespace }

  /**
   * Registers the network in IPAM (or takes the one with this name and subnet), checks the parent
   * exists, and records it (a network of another driver with this name: ERR_NETNS_KIT_NETWORK_EXISTS).
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
    const ns = opts.parent instanceof Link ? opts.parent.namespace : await defaultNamespace(opts.namespace)
    const parent = opts.parent instanceof Link ? opts.parent : await ns.link(opts.parent)
    const store = opts.store ?? new FileStore()
    const records = recordsIn(store)
    const existing = await records.getNetwork(name)
    if (existing && driverOf(existing) !== 'macvlan') throw new NetnsKitError('ERR_NETNS_KIT_NETWORK_EXISTS', `a ${driverOf(existing)} network named '${name}' exists`)
    const ipam = new Ipam({ store })
    let net: IpamNetwork
    try {
      net = await ipam.createNetwork(name, { subnet: opts.subnet, gateway: opts.gateway, ipRange: opts.ipRange })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_NETNS_KIT_NETWORK_EXISTS') throw e
      net = await ipam.network(name)
      if (net.pools[0]?.subnet !== formatPrefix(subnet)) throw e
    }
    const pool = net.pools[0]!
    await records.putNetwork({
      driver: 'macvlan', name, id: net.id, parent: parent.name, mode, subnet: pool.subnet, gateway: pool.gateway, ipRange: pool.ipRange,
      host: identity(parent.namespace), created: net.created,
    })
    return new MacvlanNetwork(name, parent, mode, pool, store)
  }

  /** @internal The network of a record (Network.open, list): its parent looked up by name. */
  static async fromRecord(ns: Namespace, store: IpamStore, rec: MacvlanNetworkRecord): Promise<MacvlanNetwork> {
    return new MacvlanNetwork(rec.name, await ns.link(rec.parent), rec.mode, rec, store)
  }

  /**
   * `ip link add link PARENT name IFNAME netns NS address MAC up type macvlan mode MODE`,
   * `ip -n NS addr add IP/LEN dev IFNAME`, `ip -n NS route add default via GATEWAY`: the macvlan is
   * created directly inside `ns`. A failure half-way removes it and releases the address.
   */
  async connect(ns: Namespace, opts: ConnectOptionsBase = {}): Promise<MacvlanEndpoint> {
    const { ifname, mac: mac0 } = checkConnectOptions('macvlan', ns, opts, this.subnet)
    const owner = `macvlan:${process.pid}:${Date.now().toString(36)}:${counter++}`
    const alloc = await this.ipam.allocate(this.name, { owner, ip: opts.ip })
    const mac = mac0 ?? macForIp(alloc.address)
    let link: Macvlan | undefined
    try {
      link = await Macvlan.create({ name: ifname, parent: this.parent, mode: this.mode, mac, up: true, target: ns })
      await link.addAddress(`${alloc.address}/${alloc.prefixLength}`, { nodad: true })
      await ns.routes.add({ to: 'default', via: alloc.gateway })
    } catch (e) {
      await link?.delete().catch(() => {})
      await this.ipam.release(this.name, alloc.address).catch(() => {})
      throw e
    }
    return new MacvlanEndpoint(this, ns, link, alloc.address, alloc.prefixLength, mac, alloc.gateway, owner)
  }

  /** Removes the endpoint's macvlan and releases its address; idempotent. */
  async disconnect(ep: MacvlanEndpoint): Promise<void> {
    if (!(ep instanceof MacvlanEndpoint) || ep.network !== this) throw invalidArg('endpoint', ep, `must be an endpoint of ${this.name}`, 'ERR_INVALID_ARG_TYPE')
    await ep.link.delete().catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENODEV' && e.code !== 'ENOENT') throw e })
    await this.ipam.release(this.name, ep.ip)
  }

  /** Forgets the network in IPAM and its record (refused while endpoints hold addresses unless `force`). */
  async remove(opts: { force?: boolean } = {}): Promise<void> {
    await this.ipam.deleteNetwork(this.name, opts)
    const records = recordsIn(this.store)
    const rec = await records.getNetwork(this.name)
    if (rec && driverOf(rec) === 'macvlan') await records.deleteNetwork(this.name)
  }
}
