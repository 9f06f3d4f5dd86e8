// A container's endpoint on a bridge network, and the files a runtime bind-mounts into it.
import { EMBEDDED_RESOLVER, hostnameFile, hostsFile, planResolvConf } from '../container-files'
import type { Namespace } from '../namespace'
import type { Network } from './bridge'
import { hostResolvConf } from './dns'
import type { NetworkEndpoint } from './driver'
import type { EndpointRecord } from './records'

/**
 * A container's attachment to a network: its interface (`ifname` inside `namespace`), address,
 * MAC, gateway and published ports, and the files a runtime bind-mounts into the container.
 */
export class Endpoint implements NetworkEndpoint {
  readonly network: Network
  readonly namespace: Namespace
  readonly id: string
  readonly name: string
  readonly ip: string
  readonly ip6: string | undefined
  readonly prefixLength: number
  readonly mac: string
  readonly gateway: string
  readonly ifname: string
  readonly aliases: readonly string[]
  readonly hostname: string
  /** The host end of the veth, on the bridge. */
  readonly hostInterface: string
  readonly ports: readonly { protocol: string; hostIp: string; hostPort: number; containerPort: number }[]

  /** @internal */
  constructor(network: Network, namespace: Namespace, r: EndpointRecord) {
    this.network = network
    this.namespace = namespace
    this.id = r.id
    this.name = r.name
    this.ip = r.ip
    this.ip6 = r.ip6
    this.prefixLength = Number(network.subnet.split('/')[1])
    this.mac = r.mac
    this.gateway = network.gateway
    this.ifname = r.ifname
    this.aliases = Object.freeze([...r.aliases])
    this.hostname = r.hostname ?? r.name
    this.hostInterface = r.hostIf
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

  toString(): string { return `Endpoint(${this.network.name}/${this.name} ${this.ip})` }
}
