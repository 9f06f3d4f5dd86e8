// A container's endpoint on a bridge network, and the files a runtime bind-mounts into it.
import { EMBEDDED_RESOLVER, hostnameFile, hostsFile, planResolvConf } from '../container-files'
import type { EndpointRecord } from '../ipam'
import type { Namespace } from '../namespace'
import type { Network } from './bridge'
import { hostResolvConf } from './dns'
import { NetworkEndpoint } from './driver'
import { macForIp } from './mac'

/**
 * A container's attachment to a network: its interface (`ifname` inside `namespace`), address,
 * MAC, gateway and published ports, and the files a runtime bind-mounts into the container.
 */
export class Endpoint extends NetworkEndpoint {
  readonly network: Network
  readonly name: string
  readonly ip6: string | undefined
  readonly aliases: readonly string[]
  readonly hostname: string
  /** The host end of the veth, on the bridge. */
  declare readonly hostInterface: string
  readonly ports: readonly { protocol: string; hostIp: string; hostPort: number; containerPort: number }[]
  /** The runtime's container id given to connect (the CNI attachment's key, with ifname). */
  readonly containerId: string | undefined
  /** `--add-host`: the extra lines of its /etc/hosts ('host-gateway' already the gateway). */
  readonly extraHosts: readonly { name: string; ip: string }[]
  /** This endpoint gives its container the IPv4 default route (of the container's endpoints, the one with the highest gatewayPriority). */
  readonly defaultRoute: boolean
  /** The `dns` given to connect (`--dns`, `--dns-search`, `--dns-opt`): its resolver forwards to these servers. */
  readonly dns: { readonly servers?: readonly string[]; readonly search?: readonly string[]; readonly options?: readonly string[] } | undefined

  /** @internal */
  constructor(network: Network, namespace: Namespace, r: EndpointRecord) {
    const a4 = r.addresses.find((a) => a.family === 4)
    const ip = a4?.address ?? ''
    super({
      namespace,
      id: r.id,
      ip,
      prefixLength: a4?.prefixLength ?? Number(network.subnet.split('/')[1]),
      mac: r.mac ?? macForIp(ip),
      gateway: a4?.gateway ?? network.gateway,
      ifname: r.ifname,
      hostInterface: r.hostIf,
    })
    this.network = network
    this.name = r.name
    this.ip6 = r.addresses.find((a) => a.family === 6)?.address
    this.aliases = Object.freeze([...r.aliases])
    this.hostname = r.hostname ?? r.name
    this.ports = Object.freeze(r.ports.map((p) => ({ protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort })))
    this.containerId = r.containerId
    this.defaultRoute = r.gateway4
    this.extraHosts = Object.freeze(r.extraHosts.map((h) => Object.freeze({ name: h.name, ip: h.ip })))
    this.dns = r.dns ? Object.freeze({ ...r.dns }) : undefined
  }

  /**
   * The content of the container's /etc/hosts (localhost lines, the extra hosts of connect, its own name, hostname and aliases).
   * @throws Nothing: it only reads this object's fields.
   */
  hostsFile(): string {
    const names = [this.name, ...this.aliases].filter((n) => n !== this.hostname)
    return hostsFile({
      hostname: this.hostname,
      addresses: [this.ip, ...(this.ip6 ? [this.ip6] : [])],
      aliases: names,
      ipv6: true,
      extraHosts: this.extraHosts.map((h) => ({ host: h.name, ip: h.ip })),
    })
  }

  /**
   * The content of the container's /etc/hostname.
   * @throws Nothing: it only reads this object's fields.
   */
  hostnameFile(): string {
    return hostnameFile(this.hostname)
  }

  /**
   * The content of the container's /etc/resolv.conf (`docker run --dns --dns-search --dns-opt`):
   * on a network with the embedded resolver, `nameserver 127.0.0.11` (and `options ndots:0`);
   * else the given servers, or the host's minus loopback ones. Defaults: the `dns` given to connect.
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE`, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for bad input, before anything reaches the kernel (a bad server address, search domain or option).
   */
  resolvConf(opts: { dns?: string[]; search?: string[]; options?: string[] } = {}): string {
    const net = this.network
    const upstream = net.dns && net.upstream ? net.upstream.map((s) => s.replace(/^\[([^\]]+)\](:\d+)?$/, '$1').replace(/^([0-9.]+):\d+$/, '$1')) : undefined
    const dns = opts.dns ?? (this.dns?.servers?.length ? [...this.dns.servers] : undefined)
    return planResolvConf({
      host: upstream ? undefined : hostResolvConf(),
      nameservers: dns ?? upstream,
      search: opts.search ?? (this.dns?.search ? [...this.dns.search] : undefined),
      options: opts.options ?? (this.dns?.options ? [...this.dns.options] : undefined),
      fallback: upstream ? [] : undefined,
      resolver: this.network.dns ? EMBEDDED_RESOLVER : false,
      ipv6: this.ip6 !== undefined,
    }).content
  }

  /**
   * `docker network disconnect`: same as network.disconnect(this).
   * @throws As network.disconnect().
   */
  async disconnect(): Promise<void> {
    await this.network.disconnect(this)
  }

  /**
   * Disconnects (`await using ep = await net.connect(ns)`); safe to call twice.
   * @throws As network.disconnect().
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.network.disconnect(this)
  }

  /**
   * A short label for logs and messages.
   * @throws Nothing: it only reads this object's fields.
   */
  override toString(): string {
    return `Endpoint(${this.network.name}/${this.name} ${this.ip})`
  }
}
