// Docker-style bridge networking for two containers, by hand (Bridge, VethPair, addresses, routes),
// built in throwaway namespaces and proved with ping, every step printed with its `ip` equivalent.
//
//   host namespace (nk-xxxxxx)            c1 (nk-xxxxxx)          c2 (nk-xxxxxx)
//   br0 172.18.0.1/16                     eth0 172.18.0.10/16     eth0 172.18.0.11/16
//    ├── veth-c1 ─────────── veth ──────── eth0                    default via 172.18.0.1
//    └── veth-c2 ─────────── veth ─────────────────────────────── eth0
//
// Nothing is created in the machine's own network namespace; everything is removed at the end,
// also when a step fails or on Ctrl-C. Exits non-zero if any ping fails.
import { Bridge, VethPair, type Namespace } from '../lib'
import { bold, describePing, formatMs, green, ping, red, runExample, type PingResult } from './common'

const SUBNET_PREFIX = 16
const GATEWAY = '172.18.0.1'
const CONTAINERS = [
  { role: 'c1', ip: '172.18.0.10', hostIf: 'veth-c1' },
  { role: 'c2', ip: '172.18.0.11', hostIf: 'veth-c2' },
]

void runExample('netns-kit demo: a bridge, two containers, ping both ways', async (t, steps) => {
  console.log('Builds the topology of `docker network create` + `docker run` twice, in throwaway namespaces.\n')

  // 1. Namespaces: one plays the host, two play containers.
  const addNs = (ns: Namespace) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`
  const host = await steps.run('create the host namespace (lo up)', addNs, () => t.namespace('host'))
  const containers: { role: string; ip: string; hostIf: string; ns: Namespace }[] = []
  for (const c of CONTAINERS) {
    const ns = await steps.run(`create container namespace ${c.role} (lo up)`, addNs, () => t.namespace(c.role))
    containers.push({ ...c, ns })
  }
  const H = host.name!

  // 2. The bridge in the host namespace, with the gateway address.
  const br0 = await steps.run('create bridge br0 in the host namespace, up', `ip -n ${H} link add br0 up type bridge`, () =>
    Bridge.create({ name: 'br0', namespace: host, up: true }),
  )
  await steps.run(`address ${GATEWAY}/${SUBNET_PREFIX} on br0`, `ip -n ${H} addr add ${GATEWAY}/${SUBNET_PREFIX} dev br0`, () =>
    br0.addAddress(`${GATEWAY}/${SUBNET_PREFIX}`),
  )

  // 3. Each container: a veth pair whose peer is born inside the container as eth0 (one
  //    RTM_NEWLINK, attached to br0 and up in the same message), its address, its default route.
  for (const c of containers) {
    const C = c.ns.name!
    const pair = await steps.run(
      `veth ${c.hostIf} (on br0) <-> eth0 inside ${c.role}, both up`,
      [`ip -n ${H} link add ${c.hostIf} master br0 up type veth peer name eth0 netns ${C}`, `ip -n ${C} link set eth0 up`],
      () => VethPair.create({ name: c.hostIf, namespace: host, master: br0, up: true, peer: { name: 'eth0', namespace: c.ns, up: true } }),
    )
    await steps.run(`address ${c.ip}/${SUBNET_PREFIX} on eth0 in ${c.role}`, `ip -n ${C} addr add ${c.ip}/${SUBNET_PREFIX} dev eth0`, () =>
      pair.peer.addAddress(`${c.ip}/${SUBNET_PREFIX}`),
    )
    await steps.run(`default route via ${GATEWAY} in ${c.role}`, `ip -n ${C} route add default via ${GATEWAY}`, () =>
      c.ns.routes.add({ to: 'default', via: GATEWAY }),
    )
  }
  const buildMs = steps.total()

  // 4. Read the result back from the kernel: both host ends are ports of br0, each container
  //    has its default route.
  const ports = await steps.run('read back: the ports of br0', `ip -n ${H} link show master br0`, () => br0.ports())
  const portNames = ports.map((p) => p.name).sort()
  console.log(`       ports of br0: ${portNames.join(', ')}`)
  let ok = JSON.stringify(portNames) === JSON.stringify(containers.map((c) => c.hostIf).sort())
  if (!ok) console.log(red(`       expected ${containers.map((c) => c.hostIf).join(', ')}`))
  for (const c of containers) {
    const routes = await steps.run(`read back: the routes of ${c.role}`, `ip -n ${c.ns.name} route show`, () => c.ns.routes.list({ family: 4 }))
    const def = routes.find((r) => r.to === 'default')
    console.log(`       ${routes.map((r) => `${r.to}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`).join(' | ')}`)
    if (def?.via !== GATEWAY || def.dev !== 'eth0') {
      console.log(red(`       expected: default via ${GATEWAY} dev eth0`))
      ok = false
    }
  }

  // 5. Prove it: ping both ways between the containers and between the host and each container.
  console.log(bold('\nping (run inside the namespaces with ns.spawn, as `ip netns exec NS ping` would):'))
  const [c1, c2] = containers as [(typeof containers)[0], (typeof containers)[0]]
  const plan: [Namespace, string, string, string][] = [
    [c1.ns, 'c1', c2.ip, 'c2'],
    [c2.ns, 'c2', c1.ip, 'c1'],
    [host, 'host', c1.ip, 'c1'],
    [c1.ns, 'c1', GATEWAY, 'host'],
    [host, 'host', c2.ip, 'c2'],
    [c2.ns, 'c2', GATEWAY, 'host'],
  ]
  const results: PingResult[] = []
  for (const [from, fromRole, to, toRole] of plan) {
    const r = await steps.run(`ping ${fromRole} -> ${toRole} (${to})`, `ip netns exec ${from.name} ping -c 1 -W 2 ${to}`, () =>
      ping(from, to, { label: `${fromRole} (${from.name})` }),
    )
    r.to = `${toRole} (${to})`
    results.push(r)
    console.log(`       ${describePing(r)}`)
  }

  // 6. Summary.
  const passed = results.filter((r) => r.ok).length
  console.log(bold('\nsummary'))
  console.log(`  namespaces : host ${H}, ${containers.map((c) => `${c.role} ${c.ns.name}`).join(', ')}`)
  console.log(`  bridge     : br0 ${GATEWAY}/${SUBNET_PREFIX} in the host namespace, ports ${portNames.join(', ')}`)
  for (const c of containers) console.log(`  ${c.role.padEnd(11)}: eth0 ${c.ip}/${SUBNET_PREFIX}, default via ${GATEWAY}`)
  console.log(`  build time : ${formatMs(buildMs)} for the namespaces, bridge, veth pairs, addresses and routes`)
  console.log(`  pings      : ${passed}/${results.length} ${passed === results.length ? green('all replied') : red(`${results.length - passed} failed`)}`)
  for (const r of results) console.log(`    ${describePing(r)}`)
  return ok && passed === results.length
})
