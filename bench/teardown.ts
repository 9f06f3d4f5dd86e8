// Teardown on the user path, alone (issue 18): N containers connected to one network (one published
// port each), then each one's `network.disconnect(ep)` followed by its namespace's delete, C at a
// time; prints the teardown's wall time per container. Concurrent disconnects share their veth
// deletes (lib/network/reaper.ts), so C is what to vary.
//
//   sh bench/private.sh npx tsx bench/teardown.ts [N=100] [C=8] [--store memory|default] [--dns] [--lib DIR]
//
// --dns: the embedded DNS on (as the user path of `npm run bench`); off by default.
//
// --lib runs another checkout's lib (e.g. /work/main/lib) for a before/after in one sitting.
// Throwaway namespaces only (nktd<pid>-...), removed on every exit path; run as root, inside the
// team's sandbox on a shared machine. Figures from a loaded machine are noise: compare runs made
// back to back.
import * as path from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type { Endpoint, Namespace as Ns } from '../lib'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    store: { type: 'string', default: 'memory' },
    dns: { type: 'boolean', default: false },
    lib: { type: 'string', default: path.join(__dirname, '..', 'lib') },
  },
})
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib = require(path.resolve(values.lib!)) as typeof import('../lib')
const { Namespace, Network, MemoryNetworkStore } = lib

async function main(): Promise<void> {
  const n = Number(positionals[0] ?? 100)
  const conc = Number(positionals[1] ?? 8)
  const host = await Namespace.create(`nktd${process.pid}-host`, { loopback: true })
  const cs: Ns[] = []
  try {
    const store = values.store === 'memory' ? new MemoryNetworkStore() : undefined
    const net = await Network.create({ name: `td${process.pid}`, namespace: host, store, subnet: '10.200.0.0/16', ...(values.dns ? {} : { dns: false }) })
    const eps: Endpoint[] = []
    const c0 = performance.now()
    for (let i = 0; i < n; i++) {
      const c = await Namespace.create(`nktd${process.pid}-${i}`, { loopback: true })
      cs.push(c)
      eps.push(await net.connect(c, { name: `c${i}`, publish: [{ hostPort: 20000 + i, containerPort: 80 }] }))
    }
    const setup = performance.now() - c0
    const t0 = performance.now()
    let next = 0
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (next < eps.length) {
          const i = next++
          await net.disconnect(eps[i]!)
          await cs[i]!.delete()
        }
      }),
    )
    const teardown = performance.now() - t0
    console.log(
      JSON.stringify({
        n,
        concurrency: conc,
        store: values.store,
        dns: values.dns,
        setupMsPerContainer: +(setup / n).toFixed(2),
        teardownMsPerContainer: +(teardown / n).toFixed(2),
      }),
    )
    await net.remove({ force: true })
  } finally {
    for (const c of cs) await c.delete().catch(() => {})
    await host.delete().catch(() => {})
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
