// What a container runtime bind-mounts into a container: /etc/hosts, /etc/hostname and
// /etc/resolv.conf, written as Docker writes them. Pure functions: text in, text out.
import * as net from 'node:net'
import { invalidArg } from './errors'
import { canonicalIp } from './ipam/ip'

/** Docker's internal resolver address, inside every container on a user-defined network. */
export const EMBEDDED_RESOLVER = '127.0.0.11'

/** Docker's fallback nameservers, used when none is left from the host or the options. */
export const FALLBACK_NAMESERVERS: readonly string[] = Object.freeze(['8.8.8.8', '8.8.4.4'])
export const FALLBACK_NAMESERVERS_V6: readonly string[] = Object.freeze(['2001:4860:4860::8888', '2001:4860:4860::8844'])

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** A host name: dot-separated RFC 1123 labels, at most 253 bytes (64 for a hostname, the kernel's HOST_NAME_MAX). */
export function checkHostName(value: unknown, arg: string, max = 253): string {
  if (typeof value !== 'string') throw invalidArg(arg, value, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  if (value.length === 0 || value.length > max) throw invalidArg(arg, value, `must be a host name of 1 to ${max} characters`)
  if (!value.split('.').every((l) => LABEL.test(l))) {
    throw invalidArg(arg, value, 'must be labels of letters, digits and inner hyphens, separated by dots (RFC 1123)')
  }
  return value
}

function checkStringArray(value: unknown, arg: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw invalidArg(arg, value, 'must be an array of strings', 'ERR_INVALID_ARG_TYPE')
  for (const [i, v] of value.entries()) if (typeof v !== 'string') throw invalidArg(`${arg}[${i}]`, v, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  return value as string[]
}

function checkAddress(value: string, arg: string): string {
  if (net.isIP(value) === 0 || value.includes('%')) throw invalidArg(arg, value, 'must be an IPv4 or IPv6 address')
  return canonicalIp(value, arg)
}

// --- /etc/hosts ---------------------------------------------------------------------------

export interface HostsFileOptions {
  /** The container's hostname ('web'), or its fully qualified name ('web.example.com'). */
  hostname: string
  /** Appended to the hostname for the fully qualified name (Docker's --domainname). */
  domainname?: string
  /** The container's own addresses (IPv4 and IPv6): one line each, naming the container. */
  addresses?: string[]
  /** More names for the container, after its hostname on its lines. */
  aliases?: string[]
  /** Extra lines, as Docker's --add-host NAME:IP (written before the container's own). */
  extraHosts?: { host: string; ip: string }[]
  /** Write the IPv6 localhost and multicast lines (default true; Docker drops them when the container has IPv6 disabled). */
  ipv6?: boolean
}

/**
 * The content of a container's /etc/hosts, as Docker writes it:
 *
 * ```
 * 127.0.0.1	localhost
 * ::1	localhost ip6-localhost ip6-loopback
 * fe00::0	ip6-localnet
 * ff00::0	ip6-mcastprefix
 * ff02::1	ip6-allnodes
 * ff02::2	ip6-allrouters
 * 172.18.0.2	web.example.com web db
 * ```
 *
 * then the extra hosts, then one line per container address: the fully qualified name,
 * the bare hostname (when they differ) and the aliases. Fields are tab-separated.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for options of the wrong type (not an object, non-string names, extraHosts not an array of { host, ip }, a non-boolean ipv6), `ERR_INVALID_ARG_VALUE` for a host name that is not RFC 1123 (at most 253 characters, with the domain), an address that is not IPv4 or IPv6.
 */
export function hostsFile(opts: HostsFileOptions): string {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const hostname = checkHostName(opts.hostname, 'opts.hostname', 64)
  const domainname = opts.domainname === undefined || opts.domainname === '' ? undefined : checkHostName(opts.domainname, 'opts.domainname')
  const addresses = checkStringArray(opts.addresses, 'opts.addresses').map((a, i) => checkAddress(a, `opts.addresses[${i}]`))
  const aliases = checkStringArray(opts.aliases, 'opts.aliases').map((a, i) => checkHostName(a, `opts.aliases[${i}]`))
  if (opts.extraHosts !== undefined && !Array.isArray(opts.extraHosts))
    throw invalidArg('opts.extraHosts', opts.extraHosts, 'must be an array of { host, ip }', 'ERR_INVALID_ARG_TYPE')
  const extra = (opts.extraHosts ?? []).map((e, i) => {
    if (!e || typeof e !== 'object') throw invalidArg(`opts.extraHosts[${i}]`, e, 'must be an object { host, ip }', 'ERR_INVALID_ARG_TYPE')
    return { host: checkHostName(e.host, `opts.extraHosts[${i}].host`), ip: checkAddress(e.ip, `opts.extraHosts[${i}].ip`) }
  })
  if (opts.ipv6 !== undefined && typeof opts.ipv6 !== 'boolean') throw invalidArg('opts.ipv6', opts.ipv6, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  const fqdn = domainname ? `${hostname}.${domainname}` : hostname
  if (fqdn.length > 253) throw invalidArg('opts.domainname', opts.domainname, 'makes the fully qualified name longer than 253 characters')

  const lines: [string, string][] = [['127.0.0.1', 'localhost']]
  if (opts.ipv6 !== false) {
    lines.push(
      ['::1', 'localhost ip6-localhost ip6-loopback'],
      ['fe00::0', 'ip6-localnet'],
      ['ff00::0', 'ip6-mcastprefix'],
      ['ff02::1', 'ip6-allnodes'],
      ['ff02::2', 'ip6-allrouters'],
    )
  }
  for (const e of extra) lines.push([e.ip, e.host])
  const names = [fqdn]
  const bare = fqdn.split('.')[0]!
  if (bare !== fqdn) names.push(bare)
  for (const a of aliases) if (!names.includes(a)) names.push(a)
  for (const a of addresses) lines.push([a, names.join(' ')])
  return lines.map(([ip, hosts]) => `${ip}\t${hosts}\n`).join('')
}

/**
 * The content of /etc/hostname: the hostname and a newline.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for a non-string, `ERR_INVALID_ARG_VALUE` for a name that is not RFC 1123 labels or is longer than 64 characters (HOST_NAME_MAX).
 */
export function hostnameFile(hostname: string): string {
  return `${checkHostName(hostname, 'hostname', 64)}\n`
}

// --- /etc/resolv.conf ---------------------------------------------------------------------

/** A resolv.conf as read: nameservers, search domains, options, and lines it does not model. */
export interface ResolvConfData {
  nameservers: string[]
  search: string[]
  options: string[]
  /** Lines with other directives (sortlist, ...), kept verbatim. */
  other: string[]
  /** Nameserver entries that are not addresses. */
  invalid: string[]
}

/**
 * Parses resolv.conf text as the resolver does: the last search (or domain) line wins, options accumulate.
 * Lines it does not model are kept, never refused.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `text` is not a string.
 */
export function parseResolvConf(text: string): ResolvConfData {
  if (typeof text !== 'string') throw invalidArg('text', text, 'must be a string', 'ERR_INVALID_ARG_TYPE')
  const out: ResolvConfData = { nameservers: [], search: [], options: [], other: [], invalid: [] }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).filter(Boolean)
    if (f.length === 0 || f[0]!.startsWith('#') || f[0]!.startsWith(';')) continue
    switch (f[0]) {
      case 'nameserver':
        if (f[1] === undefined) break
        if (net.isIP(f[1].split('%')[0]!) !== 0) out.nameservers.push(f[1])
        else out.invalid.push(f[1])
        break
      case 'domain':
      case 'search':
        if (f.length > 1) out.search = f.slice(1)
        break
      case 'options':
        out.options.push(...f.slice(1))
        break
      default:
        out.other.push(line.trim())
    }
  }
  return out
}

const NUMERIC_OPTIONS: Record<string, [number, number]> = { ndots: [0, 15], timeout: [0, 30], attempts: [0, 5] }

function checkSearch(list: string[], arg: string): string[] {
  if (list.length === 1 && list[0] === '.') return [] // Docker's --dns-search . : no search domains
  return list.map((d, i) => {
    const name = d.endsWith('.') ? d.slice(0, -1) : d
    if (name === '' || name.startsWith('.')) throw invalidArg(`${arg}[${i}]`, d, "must be a domain name (a lone '.' means none)")
    // Search domains are DNS names: underscores appear in the wild (_tcp.example.com).
    if (name.length > 253 || !name.split('.').every((l) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l))) {
      throw invalidArg(`${arg}[${i}]`, d, 'must be a domain name of at most 253 characters')
    }
    return name
  })
}

function checkOptions(list: string[], arg: string): string[] {
  return list.map((o, i) => {
    const m = /^([A-Za-z0-9][A-Za-z0-9_-]*)(?::(\S+))?$/.exec(o)
    if (!m) throw invalidArg(`${arg}[${i}]`, o, "must be an option like 'ndots:2', 'timeout:1', 'edns0' (no white space)")
    const range = NUMERIC_OPTIONS[m[1]!]
    if (range) {
      if (m[2] === undefined || !/^\d+$/.test(m[2]) || Number(m[2]) < range[0] || Number(m[2]) > range[1]) {
        throw invalidArg(`${arg}[${i}]`, o, `must give ${m[1]} a number from ${range[0]} to ${range[1]}`)
      }
    }
    return o
  })
}

export interface ResolvConfOptions {
  /** The host's resolv.conf text, inherited where no override is given (default: nothing to inherit). */
  host?: string
  /** Nameservers (Docker's --dns): replace the host's. */
  nameservers?: string[]
  /** Search domains (--dns-search): replace the host's; ['.'] for none. */
  search?: string[]
  /** Options (--dns-opt): replace the host's. */
  options?: string[]
  /**
   * The container uses an internal resolver at this address (Docker: 127.0.0.11 on
   * user-defined networks; `true` means that one). The file then names only it, with
   * `options ndots:0` unless an ndots option is given; the other nameservers become its
   * upstreams. Without it, loopback nameservers inherited from the host (useless inside
   * a container) are dropped, as Docker does for its default bridge.
   */
  resolver?: string | boolean
  /** The container has IPv6: keep inherited IPv6 nameservers, and fall back to IPv6 ones too (default false). */
  ipv6?: boolean
  /** Nameservers to use when none is left (default: Docker's, 8.8.8.8 and 8.8.4.4, plus Google's IPv6 ones with ipv6). */
  fallback?: string[]
  /** End the file with comments saying how it was made (default true). */
  comments?: boolean
}

/** The resolv.conf content with what went into it. */
export interface ResolvConfPlan {
  content: string
  nameservers: string[]
  search: string[]
  options: string[]
  /** With an internal resolver: where it should forward names that are not its own. */
  upstreams: string[]
  /** No nameserver was left from the host or the options: the fallback ones are used. */
  usedFallback: boolean
}

/**
 * Builds a container's /etc/resolv.conf as Docker does, and says which upstream servers
 * an internal resolver should forward to. See resolvConf() for the options.
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` for options of the wrong type (not an object, arrays of non-strings, a non-boolean ipv6, a resolver that is neither an address nor a boolean), `ERR_INVALID_ARG_VALUE` for a nameserver, fallback or resolver that is not an IPv4 or IPv6 address, a bad search domain or an option outside its range (ndots 0-15, timeout 0-30, attempts 0-5).
 */
export function planResolvConf(opts: ResolvConfOptions = {}): ResolvConfPlan {
  if (!opts || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  const host = opts.host === undefined ? parseResolvConf('') : parseResolvConf(opts.host)
  if (opts.ipv6 !== undefined && typeof opts.ipv6 !== 'boolean') throw invalidArg('opts.ipv6', opts.ipv6, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  const ipv6 = opts.ipv6 === true
  const nsOverride = opts.nameservers !== undefined
  const given = checkStringArray(opts.nameservers, 'opts.nameservers').map((a, i) => checkAddress(a, `opts.nameservers[${i}]`))
  const search = opts.search !== undefined ? checkSearch(checkStringArray(opts.search, 'opts.search'), 'opts.search') : host.search
  const options = opts.options !== undefined ? checkOptions(checkStringArray(opts.options, 'opts.options'), 'opts.options') : [...host.options]
  const fallback =
    opts.fallback !== undefined
      ? checkStringArray(opts.fallback, 'opts.fallback').map((a, i) => checkAddress(a, `opts.fallback[${i}]`))
      : [...FALLBACK_NAMESERVERS, ...(ipv6 ? FALLBACK_NAMESERVERS_V6 : [])]
  let resolver: string | undefined
  if (opts.resolver === true) resolver = EMBEDDED_RESOLVER
  else if (typeof opts.resolver === 'string') resolver = checkAddress(opts.resolver, 'opts.resolver')
  else if (opts.resolver !== undefined && opts.resolver !== false)
    throw invalidArg('opts.resolver', opts.resolver, 'must be an address or a boolean', 'ERR_INVALID_ARG_TYPE')

  const isLoopback = (a: string) => a === '::1' || a.startsWith('127.')
  let servers = nsOverride ? given : host.nameservers
  let usedFallback = false
  let upstreams: string[] = []
  let nameservers: string[]
  if (resolver) {
    // The internal resolver forwards from the host's namespace, so host loopback servers still work.
    upstreams = servers.map((s) => s.split('%')[0]!)
    if (upstreams.length === 0) {
      upstreams = fallback
      usedFallback = true
    }
    nameservers = [resolver]
    if (!options.some((o) => o.split(':')[0] === 'ndots')) options.push('ndots:0')
  } else {
    if (!nsOverride) servers = servers.filter((s) => !isLoopback(s) && (ipv6 || net.isIPv4(s)))
    if (servers.length === 0) {
      servers = fallback
      usedFallback = true
    }
    nameservers = servers
  }

  const lines: string[] = []
  for (const n of nameservers) lines.push(`nameserver ${n}`)
  if (search.length) lines.push(`search ${search.join(' ')}`)
  if (options.length) lines.push(`options ${options.join(' ')}`)
  lines.push(...host.other)
  if (opts.comments !== false) {
    const overrides = [nsOverride && 'nameservers', opts.search !== undefined && 'search', opts.options !== undefined && 'options'].filter(Boolean)
    lines.push('', `# Generated by netns-kit${opts.host !== undefined ? " from the host's resolv.conf" : ''}${resolver ? ' (internal resolver)' : ''}.`)
    if (usedFallback) lines.push('# Used the fallback nameservers.')
    if (resolver) lines.push(`# Upstream servers: [${upstreams.join(' ')}]`)
    if (host.invalid.length) lines.push(`# Invalid nameservers: [${host.invalid.join(' ')}]`)
    lines.push(`# Overrides: [${overrides.join(' ')}]`)
  }
  return { content: lines.join('\n') + '\n', nameservers, search, options, upstreams, usedFallback }
}

/**
 * The content of a container's /etc/resolv.conf, as Docker writes it:
 * `nameserver` lines (Docker's --dns, else the host's minus loopback ones, else the
 * fallback), `search` (--dns-search) and `options` (--dns-opt). With `resolver` (a
 * user-defined network): `nameserver 127.0.0.11` and `options ndots:0`, the other
 * servers going to the internal resolver as upstreams (see planResolvConf()). Every
 * input is validated: addresses, domain names, options (ndots 0-15, timeout 0-30, attempts 0-5).
 * @throws As planResolvConf().
 */
export function resolvConf(opts: ResolvConfOptions = {}): string {
  return planResolvConf(opts).content
}
