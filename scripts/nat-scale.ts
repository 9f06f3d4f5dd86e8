// Cost of one published port as the maps grow: publishes N mappings (default 5000) one per call in
// a throwaway topology, prints the median time of the first and last 100, and of deleting the last
// 100. Run as root: npx tsx scripts/nat-scale.ts [N]
import { NatRule } from '../lib'
import { Sandbox } from '../test/helpers'
import { topology, C1 } from '../test/nat-helpers'
;(async () => {
  const sb = new Sandbox()
  try {
    const t = await topology(sb)
    await NatRule.isolate({ namespace: t.host, interface: 'br0' })
    const N = Number(process.argv[2] ?? 5000)
    const times: number[] = []
    const rules: NatRule[] = []
    for (let i = 0; i < N; i++) {
      const t0 = process.hrtime.bigint()
      rules.push(await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 10000 + i, containerIp: C1, containerPort: 80 }))
      times.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(3)
    console.log(`publish: first 100 median ${med(times.slice(0, 100))} ms, last 100 median ${med(times.slice(-100))} ms (N=${N})`)
    const dt: number[] = []
    for (const r of rules.slice(-100)) {
      const t0 = process.hrtime.bigint()
      await r.delete()
      dt.push(Number(process.hrtime.bigint() - t0) / 1e6)
    }
    console.log(`delete (with ${N - 100}..${N} mappings): median ${med(dt)} ms`)
  } finally {
    await sb.cleanup()
  }
})()
