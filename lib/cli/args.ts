// Command-line values the CLI reads itself (docker's port and option syntaxes); everything else
// is checked by the library, whose TypeErrors become usage errors (exit status 2).
import { isIP } from 'node:net'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './output'

export type Options = NonNullable<ParseArgsConfig['options']>

/** The options every command takes. */
export const COMMON: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>
  positionals: string[]
}

/** util.parseArgs, strict, with the common options added. */
export function parse(args: string[], options: Options): Parsed {
  const r = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true })
  return { values: r.values as Parsed['values'], positionals: r.positionals }
}

/**
 * Splits `run [OPTIONS] [--] CMD ARGS...` where the command starts: after `--`, or at the first
 * argument that is not an option or an option's value (parseArgs decides which, with `options`),
 * so that the command's own options (`ls -l`) are not read as ours.
 */
export function splitCommand(args: string[], options: Options): { ours: string[]; command: string[] } {
  const { tokens } = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: false, tokens: true })
  for (const t of tokens) {
    if (t.kind === 'option-terminator') return { ours: args.slice(0, t.index), command: args.slice(t.index + 1) }
    if (t.kind === 'positional') return { ours: args.slice(0, t.index), command: args.slice(t.index) }
  }
  return { ours: args, command: [] }
}

export const strs = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)])
export const str = (v: unknown): string | undefined => (v === undefined ? undefined : Array.isArray(v) ? String(v[v.length - 1]) : String(v))

export interface PortSpec {
  protocol: 'tcp' | 'udp' | 'sctp'
  hostIp?: string
  hostPort?: number
  containerPort: number
}

function portNumber(s: string, what: string, spec: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) {
    if (/^\d+-\d+$/.test(s)) throw new UsageError(`invalid port '${spec}': port ranges are not supported`)
    throw new UsageError(`invalid port '${spec}': the ${what} must be a number from 1 to 65535`)
  }
  return Number(s)
}

/**
 * docker's `-p` syntax: `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`, `IP::CONTAINERPORT` (a free host
 * port), `[IPv6]:HOSTPORT:CONTAINERPORT`. Without a host port, the host port is chosen (docker -P).
 */
export function parsePort(spec: string): PortSpec {
  let rest = spec
  let protocol: PortSpec['protocol'] = 'tcp'
  const slash = rest.lastIndexOf('/')
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase()
    if (p !== 'tcp' && p !== 'udp' && p !== 'sctp') throw new UsageError(`invalid port '${spec}': the protocol must be tcp, udp or sctp`)
    protocol = p
    rest = rest.slice(0, slash)
  }
  const bad = () => new UsageError(`invalid port '${spec}': expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`)
  let hostIp: string | undefined
  let host: string | undefined
  let cont: string
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest)
  if (v6) {
    hostIp = v6[1]!
    if (isIP(hostIp) !== 6) throw new UsageError(`invalid port '${spec}': '${hostIp}' is not an IPv6 address`)
    const parts = v6[2]!.split(':')
    if (parts.length !== 2) throw bad()
    ;[host, cont] = parts as [string, string]
  } else {
    const parts = rest.split(':')
    if (parts.length === 1) cont = parts[0]!
    else if (parts.length === 2) {
      ;[host, cont] = parts as [string, string]
      if (!host) throw bad()
    } else if (parts.length === 3) {
      ;[hostIp, host, cont] = parts as [string, string, string]
      if (isIP(hostIp) !== 4) throw new UsageError(`invalid port '${spec}': '${hostIp}' is not an IPv4 address (write IPv6 ones in brackets)`)
    } else throw bad()
  }
  const containerPort = portNumber(cont, 'container port', spec)
  return { protocol, ...(hostIp ? { hostIp } : {}), ...(host ? { hostPort: portNumber(host, 'host port', spec) } : {}), containerPort }
}

/** `--expose PORT[/PROTO]` (published to a free host port by -P). */
export function parseExpose(spec: string): PortSpec {
  const p = parsePort(spec)
  if (p.hostIp || p.hostPort) throw new UsageError(`invalid --expose '${spec}': expected PORT[/PROTO]`)
  return p
}

/** What `network create --opt K=V` may set; docker's com.docker.network.* keys are accepted too. */
export interface CreateOpts {
  icc?: boolean
  mtu?: number
  bridgeName?: string
  masquerade?: boolean
}

const OPT_KEYS: Record<string, keyof CreateOpts> = {
  icc: 'icc',
  'com.docker.network.bridge.enable_icc': 'icc',
  mtu: 'mtu',
  'com.docker.network.driver.mtu': 'mtu',
  'bridge-name': 'bridgeName',
  'com.docker.network.bridge.name': 'bridgeName',
  masquerade: 'masquerade',
  'com.docker.network.bridge.enable_ip_masquerade': 'masquerade',
}

function bool(v: string, opt: string): boolean {
  if (v === 'true') return true
  if (v === 'false') return false
  throw new UsageError(`invalid --opt '${opt}': the value must be true or false`)
}

export function parseCreateOpts(list: string[]): CreateOpts {
  const out: CreateOpts = {}
  for (const o of list) {
    const eq = o.indexOf('=')
    const key = OPT_KEYS[eq > 0 ? o.slice(0, eq) : o]
    if (eq <= 0 || !key) throw new UsageError(`invalid --opt '${o}': expected icc=false, mtu=M, bridge-name=B or masquerade=false`)
    const v = o.slice(eq + 1)
    if (key === 'mtu') {
      if (!/^\d+$/.test(v)) throw new UsageError(`invalid --opt '${o}': the MTU must be a number`)
      out.mtu = Number(v)
    } else if (key === 'bridgeName') {
      out.bridgeName = v
    } else {
      out[key] = bool(v, o)
    }
  }
  return out
}

/** `--add-host NAME:IP` (an IPv6 address may follow the first colon). */
export function parseAddHost(spec: string): { name: string; ip: string } {
  const i = spec.indexOf(':')
  const name = i > 0 ? spec.slice(0, i) : ''
  let ip = i > 0 ? spec.slice(i + 1) : ''
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1)
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(name) || !isIP(ip)) throw new UsageError(`invalid --add-host '${spec}': expected NAME:IP`)
  return { name, ip }
}
