// A container's endpoint on a bridge network, and the files a runtime bind-mounts into it.
import { EMBEDDED_RESOLVER, hostnameFile, hostsFile, planResolvConf } from '../container-files'
import type { Namespace } from '../namespace'
import type { Network } from './bridge'
import { hostResolvConf } from './dns'
import { NetworkEndpoint } from './driver'
import type { EndpointRecord } from './records'

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

  /** @internal */
  constructor(network: Network, namespace: Namespace, r: EndpointRecord) {
    super({
      namespace, id: r.id, ip: r.ip, prefixLength: Number(network.subnet.split('/')[1]), mac: r.mac, gateway: network.gateway, ifname: r.ifname,
      hostInterface: r.hostIf,
    })
    this.network = network
    this.name = r.name
    this.ip6 = r.ip6
    this.aliases = Object.freeze([...r.aliases])
    this.hostname = r.hostname ?? r.name
    this.ports = Object.freeze(r.ports.map((p) => ({ ...p })))
  }

  /** The content of the container's /etc/hosts (localhost lines, its own name, hostname and aliases). */
  hostsFile(): string {
    const names = [this.name, ...this.aliases].filter((n) => n !== this.hostname)
    return hostsFile({ hostname: this.hostname, addresses: [this.ip, ...(this.ip6 ? [this.ip6] : [])], aliases: names, ipv6: true })
  }

  /** The content of the container's /etc/hostname. */
  hostnameFile(): string {
    return hostnameFile(this.hostname)
  }

  /**
   * The content of the container's /etc/resolv.conf (`docker run --dns --dns-search --dns-opt`):
   * on a network with the embedded resolver, `nameserver 127.0.0.11` (and `options ndots:0`);
   * else the given servers, or the host's minus loopback ones.
   */
  resolvConf(opts: { dns?: string[]; search?: string[]; options?: string[] } = {}): string {
    const net = this.network
    const upstream = net.dns && net.upstream ? net.upstream.map((s) => s.replace(/^\[([^\]]+)\](:\d+)?$/, '$1').replace(/^([0-9.]+):\d+$/, '$1')) : undefined
    return planResolvConf({
      host: upstream ? undefined : hostResolvConf(), nameservers: opts.dns ?? upstream, search: opts.search, options: opts.options,
      fallback: upstream ? [] : undefined,
      resolver: this.network.dns ? EMBEDDED_RESOLVER : false, ipv6: this.ip6 !== undefined,
    }).content
  }

  /** `docker network disconnect`: same as network.disconnect(this). */
  async disconnect(): Promise<void> { await this.network.disconnect(this) }

  override toString(): string { return `Endpoint(${this.network.name}/${this.name} ${this.ip})` }
}
