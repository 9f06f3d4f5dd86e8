// The benchmark's own check that the root network namespace ends as it began (links, nftables
// tables, net.* sysctls), as test/setup.ts does for the test suite.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

export interface RootState { links: string[]; nft: string[]; sysctls: Map<string, string> }

// Counters and tables the kernel changes by itself.
const VOLATILE = [/^netfilter\/nf_conntrack_count$/, /^ipv4\/route\/gc_/, /^ipv6\/route\/gc_/, /^core\/netdev_rss_key$/,
  /^netfilter\/nf_conntrack_buckets$/, /^ipv4\/tcp_fastopen_key$/, /\/stable_secret$/, /^unix\/max_dgram_qlen$/]

function walk(dir: string, rel: string, out: Map<string, string>): void {
  let entries: fs.Dirent[]
  try { entries = fs.readdirSync(dir, { withFileTypes: true }) } catch { return }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name
    const p = path.join(dir, e.name)
    if (e.isDirectory()) { walk(p, r, out); continue }
    if (VOLATILE.some((v) => v.test(r))) continue
    try { out.set(r, fs.readFileSync(p, 'utf8').trim()) } catch { /* write-only */ }
  }
}

export function rootSnapshot(): RootState {
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).sort()
  let nft: string[] = []
  try { nft = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).sort() } catch { /* no nft */ }
  const sysctls = new Map<string, string>()
  walk('/proc/sys/net', '', sysctls)
  return { links, nft, sysctls }
}

export function rootDiff(a: RootState, b: RootState): string[] {
  const out: string[] = []
  const d = (what: string, x: string[], y: string[]) => {
    const added = y.filter((v) => !x.includes(v)), removed = x.filter((v) => !y.includes(v))
    if (added.length) out.push(`${what} added: ${added.join(', ')}`)
    if (removed.length) out.push(`${what} removed: ${removed.join(', ')}`)
  }
  d('root links', a.links, b.links)
  d('root nftables tables', a.nft, b.nft)
  for (const [k, v] of a.sysctls) {
    const now = b.sysctls.get(k)
    if (now !== undefined && now !== v) out.push(`net.${k.replace(/\//g, '.')}: ${v} -> ${now}`)
  }
  return out
}
