// The functions with the most self time in V8 CPU profiles (node --cpu-prof), summed over the
// given files: npx tsx bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile [--top 25]
// With --blocks MS: every stretch where the thread ran MS ms or more without going idle (what
// held the event loop), longest first, with the deepest frames of ours (lib/, bench/, scripts/)
// and the functions that took most of it.
// A diagnostic for bench/README.md ("Where the time goes"), not part of npm run bench.
import * as fs from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const args = process.argv.slice(2)
const opt = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : undefined
}
const top = opt('--top') ?? 25
const blocksMs = opt('--blocks')
const files = args.filter((a, i) => a.endsWith('.cpuprofile') && !['--top', '--blocks'].includes(args[i - 1] ?? ''))

const short = (url: string) => url.replace(/^file:\/\//, '').replace(/.*\/(lib|bench|scripts|node_modules)\//, '$1/')
const label = (n: Node) => {
  const url = short(n.callFrame.url)
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim()
}

const self = new Map<string, number>()
let total = 0
const blocks: { file: string; at: number; ms: number; ours: Map<string, number>; fns: Map<string, number> }[] = []
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  /** The deepest frame of ours on the sample's stack. */
  const oursOf = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!
      if (/\/(lib|bench|scripts)\//.test(n.callFrame.url) && !n.callFrame.url.includes('node_modules')) return label(n)
    }
    return '(none of ours)'
  }
  let t = 0 // ms since the profile's start
  let run: (typeof blocks)[number] | undefined
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    t += dt
    const key = label(n)
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
    if (blocksMs === undefined) return
    if (n.callFrame.functionName === '(idle)') {
      if (run && run.ms >= blocksMs) blocks.push(run)
      run = undefined
      return
    }
    run ??= { file: f, at: t, ms: 0, ours: new Map(), fns: new Map() }
    run.ms += dt
    const o = oursOf(id)
    run.ours.set(o, (run.ours.get(o) ?? 0) + dt)
    run.fns.set(key, (run.fns.get(key) ?? 0) + dt)
  })
  if (run && run.ms >= (blocksMs ?? Infinity)) blocks.push(run)
}
console.log(`self time over ${files.length} profile(s): ${(total / 1000).toFixed(1)} s`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(v / 1000).toFixed(2).padStart(8)} s ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
}
if (blocksMs !== undefined) {
  console.log(`\n${blocks.length} stretch(es) of ${blocksMs} ms or more without idle, longest first:`)
  const fmt = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${v.toFixed(1)} ms ${k}`)
      .join('; ')
  for (const b of blocks.sort((a, c) => c.ms - a.ms).slice(0, top)) {
    console.log(`${b.ms.toFixed(1).padStart(7)} ms at ${(b.at / 1000).toFixed(2)} s`)
    console.log(`          ours: ${fmt(b.ours)}`)
    console.log(`          self: ${fmt(b.fns)}`)
  }
}
