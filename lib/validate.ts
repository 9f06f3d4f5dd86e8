// Input validation: everything is checked here, before anything reaches the kernel.
import * as net from 'node:net'
import { invalidArg, outOfRange } from './errors'
import { overlaps, parsePrefix } from './ipam/ip'

/**
 * Interface names: 1 to 15 bytes, no '/', ':' or white space, not '.' or '..' (the kernel's
 * dev_valid_name), and no '%': the kernel takes a name with '%d' as a template and gives the link
 * another name ('eth%d' becomes 'eth0'), which the caller would then not find.
 */
export function checkIfName(name: unknown, arg = 'name'): string {
  if (typeof name !== 'string') throw invalidArg(arg, name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const bytes = Buffer.byteLength(name)
  if (bytes < 1 || bytes > 15) throw invalidArg(arg, name, 'must be an interface name of 1 to 15 bytes')
  if (/[/:\s]/.test(name) || name.includes('\0')) throw invalidArg(arg, name, "must not contain '/', ':', NUL or white space")
  if (name.includes('%')) throw invalidArg(arg, name, "must not contain '%' (the kernel would take it as a name template such as 'eth%d')")
  if (name === '.' || name === '..') throw invalidArg(arg, name, "must not be '.' or '..'")
  return name
}

/** Namespace names as `ip netns add` takes them: a file name under /run/netns. */
export function checkNsName(name: unknown, arg = 'name'): string {
  if (typeof name !== 'string') throw invalidArg(arg, name, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (name.length === 0 || Buffer.byteLength(name) > 255) throw invalidArg(arg, name, 'must be a namespace name of 1 to 255 bytes')
  if (name.includes('/') || name.includes('\0') || /\s/.test(name)) throw invalidArg(arg, name, "must not contain '/', NUL or white space")
  if (name === '.' || name === '..') throw invalidArg(arg, name, "must not be '.' or '..'")
  return name
}

export interface Cidr {
  family: 4 | 6
  address: string
  prefixLength: number
}

/** Parses 'ADDR/LEN' (IPv4 or IPv6); the host bits may be set (an interface address). */
export function parseCidr(value: unknown, arg = 'cidr'): Cidr {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const slash = value.indexOf('/')
  if (slash < 0) throw invalidArg(arg, value, "must be an address with a prefix length, like '10.0.0.1/24'")
  const address = value.slice(0, slash)
  const len = value.slice(slash + 1)
  const family = net.isIP(address)
  if (family === 0) throw invalidArg(arg, value, 'must start with a valid IPv4 or IPv6 address')
  if (address.includes('%')) throw invalidArg(arg, value, "must not carry a zone index ('%eth0'): netlink addresses have none")
  const max = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) throw invalidArg(arg, value, `must have a prefix length from 0 to ${max}`)
  return { family: family as 4 | 6, address, prefixLength: Number(len) }
}

/** A single IPv4 or IPv6 address; returns its family. */
export function checkIp(value: unknown, arg = 'address'): 4 | 6 {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const family = net.isIP(value)
  if (family === 0) throw invalidArg(arg, value, 'must be a valid IPv4 or IPv6 address')
  // net.isIP accepts 'fe80::1%eth0'; the addon's inet_pton does not, and netlink has no zone.
  if (value.includes('%')) throw invalidArg(arg, value, "must not carry a zone index ('%eth0'): netlink addresses have none")
  return family as 4 | 6
}

/** A unicast Ethernet MAC address 'aa:bb:cc:dd:ee:ff'; returned in lower case. */
export function checkMac(value: unknown, arg = 'mac'): string {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) throw invalidArg(arg, value, "must be a MAC address like '02:42:ac:11:00:02'")
  const mac = value.toLowerCase()
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalidArg(arg, value, 'must be a unicast address (the multicast bit of the first octet is set)')
  if (mac === '00:00:00:00:00:00') throw invalidArg(arg, value, 'must not be all zeros')
  return mac
}

/**
 * A link-layer address in an FDB or neighbour entry: six octets 'aa:bb:cc:dd:ee:ff', any of
 * them (multicast and all-zeros included: the all-zeros FDB entry of a vxlan is its default
 * destination). Returned in lower case.
 */
export function checkLladdr(value: unknown, arg = 'mac'): string {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) throw invalidArg(arg, value, "must be a MAC address like '02:42:ac:11:00:02'")
  return value.toLowerCase()
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8 (the address must already be valid). */
export function isMulticastIp(ip: string): boolean {
  if (net.isIPv4(ip)) return (Number(ip.split('.')[0]) & 0xf0) === 0xe0
  return /^ff/i.test(ip)
}

/** Ranges no container network may use: loopback and multicast. */
const RESERVED_SUBNETS: { prefix: string; why: string }[] = [
  { prefix: '127.0.0.0/8', why: 'the loopback range (127.0.0.0/8)' },
  { prefix: '224.0.0.0/4', why: 'the multicast range (224.0.0.0/4)' },
  { prefix: 'ff00::/8', why: 'the multicast range (ff00::/8)' },
  { prefix: '::1/128', why: 'the loopback address (::1)' },
]

/**
 * A network's subnet ('172.18.0.0/16', host bits clear) that overlaps neither the loopback nor a
 * multicast range: addresses there are never a container's (the kernel drops 127/8 from the wire
 * as martian, and a multicast source is invalid). Returns it unchanged.
 */
export function checkUnicastSubnet(value: unknown, arg = 'subnet'): string {
  const p = parsePrefix(value, arg)
  for (const r of RESERVED_SUBNETS) {
    if (overlaps(p, parsePrefix(r.prefix))) throw invalidArg(arg, value, `must not overlap ${r.why}`)
  }
  return value as string
}

/** An IP address that is neither multicast nor unspecified (0.0.0.0, ::); returns its family. */
export function checkUnicastIp(value: unknown, arg: string): 4 | 6 {
  const family = checkIp(value, arg)
  const ip = value as string
  if (isMulticastIp(ip)) throw invalidArg(arg, ip, 'must be a unicast address, not multicast')
  if (ip === '0.0.0.0' || /^[:0]+$/.test(ip)) throw invalidArg(arg, ip, 'must not be the unspecified address')
  return family
}

/** A VXLAN network identifier: 0 to 2^24 - 1. */
export function checkVni(value: unknown, arg = 'vni'): number {
  return checkInt(value, arg, 0, 2 ** 24 - 1)
}

/** A TCP/UDP/SCTP port: an integer from 1 to 65535. */
export function checkPort(value: unknown, arg = 'port'): number {
  return checkInt(value, arg, 1, 65535)
}

/** MTU: 68 (the IPv4 minimum) to 65535. The kernel may narrow it per link kind. */
export function checkMtu(value: unknown, arg = 'mtu'): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArg(arg, value, 'must be an integer', 'ERR_INVALID_ARG_TYPE')
  if (value < 68 || value > 65535) throw outOfRange(arg, '>= 68 and <= 65535', value)
  return value
}

export function checkInt(value: unknown, arg: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalidArg(arg, value, 'must be an integer', 'ERR_INVALID_ARG_TYPE')
  if (value < min || value > max) throw outOfRange(arg, `>= ${min} and <= ${max}`, value)
  return value
}

export function checkBool(value: unknown, arg: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalidArg(arg, value, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  return value
}

/** Interface aliases: at most 255 bytes (IFALIASZ - 1), no NUL. */
export function checkAlias(value: unknown, arg = 'alias'): string {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (Buffer.byteLength(value) > 255 || value.includes('\0')) throw invalidArg(arg, value, 'must be at most 255 bytes with no NUL')
  return value
}

/**
 * A sysctl key under net.* ('net.ipv4.ip_forward', 'net.ipv4.conf.eth0.route_localnet'); an
 * interface name containing dots is written with '/' as sysctl(8) does ('net.ipv4.conf.eth0/100.rp_filter').
 * Returns the path below /proc/sys/net.
 */
export function sysctlPath(key: unknown): string {
  if (typeof key !== 'string') throw invalidArg('key', key, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const parts = key.split('.')
  if (parts[0] !== 'net' || parts.length < 3) throw invalidArg('key', key, "must be a sysctl under net.*, like 'net.ipv4.ip_forward'")
  const rel = parts.slice(1)
  for (const p of rel) {
    if (!/^[A-Za-z0-9_\-/@+]+$/.test(p)) throw invalidArg('key', key, 'must be made of names of letters, digits, _, -, / (a dot in an interface name)')
    const seg = p.replace(/\//g, '.')
    if (seg === '.' || seg === '..') throw invalidArg('key', key, "must not contain '.' or '..' components")
  }
  return rel.map((p) => p.replace(/\//g, '.')).join('/')
}

export function checkSysctlValue(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value !== 'string') throw invalidArg('value', value, 'must be a string or a number', 'ERR_INVALID_ARG_TYPE')
  if (/[\n\0]/.test(value)) throw invalidArg('value', value, 'must not contain a newline or NUL')
  return value
}
