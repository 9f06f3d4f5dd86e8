// The functions with the most self time in V8 CPU profiles (node --cpu-prof), summed over the
// given files: npx tsx bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile [--top 25]
// A diagnostic for bench/README.md ("Where the time goes"), not part of npm run bench.
import * as fs from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25
const files = args.filter((a, i) => a.endsWith('.cpuprofile') && !(topAt >= 0 && i === topAt + 1))
const self = new Map<string, number>()
let total = 0
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/(lib|bench|scripts|node_modules)\//, '$1/')
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim()
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  })
}
console.log(`self time over ${files.length} profile(s): ${(total / 1000).toFixed(1)} s`)
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(v / 1000).toFixed(2).padStart(8)} s ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
}
