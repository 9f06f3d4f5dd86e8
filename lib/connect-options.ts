// The options every network driver's connect() takes (macvlan, overlay), checked before anything
// is sent to the kernel or the store.
import { invalidArg } from './errors'
import { contains, parseIp, parsePrefix } from './ipam/ip'
import { checkIfName, checkMac } from './validate'

export interface CheckedConnectOptions {
  /** The interface name inside the container ('eth0' unless given). */
  ifname: string
  mac?: string
  ip?: string
}

/** Checks `ns` is a Namespace and `opts` ({ ip?, mac?, ifname? }) fit `subnet`. */
export function checkConnectOptions(ns: unknown, opts: unknown, subnet: string): CheckedConnectOptions {
  if (!ns || typeof (ns as { equals?: unknown }).equals !== 'function') throw invalidArg('ns', ns, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const o = opts as { ip?: string; mac?: string; ifname?: string }
  const ifname = o.ifname === undefined ? 'eth0' : checkIfName(o.ifname, 'opts.ifname')
  const mac = o.mac === undefined ? undefined : checkMac(o.mac, 'opts.mac')
  if (o.ip !== undefined && !contains(parsePrefix(subnet), parseIp(o.ip, 'opts.ip'))) {
    throw invalidArg('opts.ip', o.ip, `must be inside the subnet ${subnet}`)
  }
  return { ifname, mac, ip: o.ip }
}
