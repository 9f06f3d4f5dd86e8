// The state of the machine's own (root) network namespace that tests, examples and benchmarks must
// leave as they found it: its links, /run/netns entries, nftables tables, net.* sysctls, and what
// is under /etc/netns (the files `ip netns exec` bind-mounts) with netns-kit's record of it.
// Used by test/setup.ts (the suite's final check) and bench/root-guard.ts.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

export interface RootState {
  links: string[]
  netns: string[]
  /** Every directory and file under /etc/netns and under /run/netns-kit/etc-netns (the registry of what netns-kit wrote there). */
  etcNetns: string[]
  nft: string[]
  sysctls: Map<string, string>
}

// Counters and tables that the kernel changes by itself, whatever the tests do.
const VOLATILE = [
  /^netfilter\/nf_conntrack_count$/,
  /^ipv4\/route\/gc_/,
  /^ipv6\/route\/gc_/,
  /^core\/netdev_rss_key$/,
  /^netfilter\/nf_conntrack_buckets$/,
  /^ipv4\/tcp_fastopen_key$/,
  /\/stable_secret$/,
  /^unix\/max_dgram_qlen$/,
]

function walk(dir: string, rel: string, out: Map<string, string>): void {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      walk(p, r, out)
      continue
    }
    if (VOLATILE.some((v) => v.test(r))) continue
    try {
      out.set(r, fs.readFileSync(p, 'utf8').trim())
    } catch {
      /* write-only or unreadable */
    }
  }
}

/** The paths below `dir` (directories end with '/'), `prefix` in front; none when it does not exist. */
function tree(dir: string, prefix: string): string[] {
  let entries: fs.Dirent[]
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.flatMap((e) => (e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(path.join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`]))
}

export function rootSnapshot(): RootState {
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).sort()
  let netns: string[] = []
  try {
    netns = fs.readdirSync('/run/netns').sort()
  } catch {
    /* none */
  }
  let nft: string[] = []
  try {
    nft = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .sort()
  } catch {
    /* nft missing, or no privileges (unit tests) */
  }
  const sysctls = new Map<string, string>()
  walk('/proc/sys/net', '', sysctls)
  const etcNetns = [...tree('/etc/netns', '/etc/netns/'), ...tree('/run/netns-kit/etc-netns', '/run/netns-kit/etc-netns/')].sort()
  return { links, netns, etcNetns, nft, sysctls }
}

/** What changed from `a` to `b`, one line per kind of change (empty: nothing). */
export function rootDiff(a: RootState, b: RootState, opts: { netns?: boolean } = {}): string[] {
  const out: string[] = []
  const diff = (what: string, x: string[], y: string[]) => {
    const added = y.filter((v) => !x.includes(v))
    const removed = x.filter((v) => !y.includes(v))
    if (added.length) out.push(`${what} added: ${added.join(', ')}`)
    if (removed.length) out.push(`${what} removed: ${removed.join(', ')}`)
  }
  diff('root links', a.links, b.links)
  if (opts.netns !== false) diff('/run/netns entries', a.netns, b.netns)
  diff('/etc/netns entries', a.etcNetns, b.etcNetns)
  diff('nftables tables', a.nft, b.nft)
  for (const [k, v] of a.sysctls) {
    const now = b.sysctls.get(k)
    if (now !== undefined && now !== v) out.push(`net.${k.replace(/\//g, '.')} changed: ${v} -> ${now}`)
  }
  return out
}
