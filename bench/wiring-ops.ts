// Which kernel operation of Network.connect's wiring trip grows with the network (issues 12 and 18).
// N containers, one after another, get exactly the operations the trip sends (lib/network/
// bridge-connect.ts wiring()), each sent as its own trip and timed; the median of the first and the
// last 50 per operation. No store, no DNS, no nftables: what is left is the kernel's own cost.
//
//   sh bench/private.sh npx tsx bench/wiring-ops.ts [N=1000] [--json FILE]
//
// Found with it (2026-12-02, 2 cores, N=1000): the container's disable_ipv6 write 0.15 -> 1.74 ms
// (the first /proc/sys/net lookup in a new namespace walks one dcache hash chain holding the
// `ipv6` dentry of every live namespace that has looked there: proc_sys_compare + __d_lookup, ~20%
// of busy CPU in the last 50 under perf), the veth created onto the bridge 0.54 -> 1.28 ms and the
// host port brought up 0.12 -> 0.67 ms (br_add_if, __netdev_adjacent_dev_insert,
// br_port_state_selection: loops over every port of the bridge). The rest are flat within noise.
import * as fs from 'node:fs'
import { Bridge, Namespace } from '../lib'
import { runOne, type Op } from '../lib/kernel/rtnl'
import { noIpv6 } from '../lib/veth'
import { cleanupAll, installExitCleanup, median, nsName, removeNamespaces, track } from './common'

const args = process.argv.slice(2)
const jsonAt = args.indexOf('--json')
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined
const N = Number(args.find((a, i) => /^\d+$/.test(a) && i !== jsonAt + 1) ?? 1000)
const WINDOW = Math.min(50, Math.floor(N / 4))

/** The trip's operations for container i (the names and order of wiring(), an IPv4-only network, icc on). */
function ops(host: Namespace, bridgeIndex: number, ns: Namespace, i: number): [string, Op][] {
  const hostIf = `nkw${i}`
  const a = `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
  return [
    [
      'link.create veth onto the bridge',
      { ns: host, op: 'link.create', kind: 'veth', name: hostIf, master: bridgeIndex, object: hostIf, peer: { name: 'eth0', target: ns } },
    ],
    ['sysctl.set disable_ipv6 (host port)', noIpv6(host, hostIf)],
    ['link.set alias, hairpin (host port)', { ns: host, op: 'link.set', name: hostIf, alias: `netns-kit:bench:${i}`, hairpin: true, object: hostIf }],
    ['link.set up (host port)', { ns: host, op: 'link.set', name: hostIf, up: true, object: hostIf }],
    ['sysctl.set disable_ipv6 (container)', noIpv6(ns, 'eth0')],
    ['link.set lo up (container)', { ns, op: 'link.set', name: 'lo', up: true, object: 'lo' }],
    ['link.set eth0 up (container)', { ns, op: 'link.set', name: 'eth0', up: true, object: 'eth0' }],
    ['addr.add (container)', { ns, op: 'addr.add', linkName: 'eth0', address: a, prefixLength: 8, object: a }],
    ['route.add default (container)', { ns, op: 'route.add', family: 4, dstLength: 0, gateway: '10.0.0.1', object: 'default' }],
  ]
}

async function main(): Promise<void> {
  installExitCleanup()
  const host = track(await Namespace.create(nsName('wh')))
  const bridge = await Bridge.create({ name: 'br0', namespace: host, up: true })
  await runOne({ ns: host, op: 'addr.add', index: bridge.index, address: '10.0.0.1', prefixLength: 8, object: 'br0' })
  const times = new Map<string, number[]>()
  const names: string[] = []
  for (let i = 0; i < N; i++) {
    const name = nsName(`w${i}`)
    names.push(name)
    const ns = track(await Namespace.create(name))
    for (const [what, op] of ops(host, bridge.index, ns, i)) {
      const t = performance.now()
      await runOne(op)
      const d = performance.now() - t
      const l = times.get(what) ?? []
      l.push(d)
      times.set(what, l)
    }
    if ((i + 1) % 250 === 0) console.error(`  ${i + 1} wired`)
  }
  const rows = [...times].map(([what, l]) => ({ what, first: median(l.slice(0, WINDOW)), last: median(l.slice(-WINDOW)) }))
  const sum = rows.reduce((s, r) => ({ first: s.first + r.first, last: s.last + r.last }), { first: 0, last: 0 })
  const L = [
    `The wiring trip's operations one by one, N=${N} (median ms of the first and last ${WINDOW} containers):`,
    '',
    '| operation | first | last | last / first |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.what} | ${r.first.toFixed(3)} | ${r.last.toFixed(3)} | ${(r.last / r.first).toFixed(2)}x |`),
    `| **sum** | ${sum.first.toFixed(3)} | ${sum.last.toFixed(3)} | ${(sum.last / sum.first).toFixed(2)}x |`,
  ]
  console.log(L.join('\n'))
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ n: N, window: WINDOW, rows }, null, 2))
  await removeNamespaces(names)
  await cleanupAll()
}

main().catch(async (e: unknown) => {
  console.error(e)
  await cleanupAll()
  process.exit(1)
})
