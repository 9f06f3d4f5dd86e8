// Root hooks: the suite ends by comparing the root network namespace with its state at the
// start (links, /run/netns entries, nftables tables, net.* sysctls) and fails on a difference.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

interface RootState { links: string[]; netns: string[]; nft: string[]; sysctls: Map<string, string> }

// Counters and tables that the kernel changes by itself, whatever the tests do.
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
    try { out.set(r, fs.readFileSync(p, 'utf8').trim()) } catch { /* write-only or unreadable */ }
  }
}

function snapshot(): RootState {
  const links = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).sort()
  let netns: string[] = []
  try { netns = fs.readdirSync('/run/netns').sort() } catch { /* none */ }
  let nft: string[] = []
  try { nft = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).sort() } catch { /* nft missing, or no privileges (unit tests) */ }
  const sysctls = new Map<string, string>()
  walk('/proc/sys/net', '', sysctls)
  return { links, netns, nft, sysctls }
}

let before: RootState | undefined

export const mochaHooks = {
  beforeAll(): void {
    before = snapshot()
  },
  afterAll(): void {
    if (!before) return
    const after = snapshot()
    const problems: string[] = []
    const diff = (what: string, a: string[], b: string[]) => {
      const added = b.filter((x) => !a.includes(x))
      const removed = a.filter((x) => !b.includes(x))
      if (added.length) problems.push(`${what} added: ${added.join(', ')}`)
      if (removed.length) problems.push(`${what} removed: ${removed.join(', ')}`)
    }
    diff('root links', before.links, after.links)
    diff('/run/netns entries', before.netns, after.netns)
    diff('nftables tables', before.nft, after.nft)
    for (const [k, v] of before.sysctls) {
      const now = after.sysctls.get(k)
      if (now !== undefined && now !== v) problems.push(`net.${k.replace(/\//g, '.')} changed: ${v} -> ${now}`)
    }
    if (problems.length) throw new Error(`the root network namespace changed during the tests:\n  ${problems.join('\n  ')}`)
  },
}
