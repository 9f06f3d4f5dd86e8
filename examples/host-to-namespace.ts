// The host talks to a namespace: one veth pair, no bridge.
//
//   host namespace: veth-c 10.99.0.1/30  ──── veth ────  eth0 10.99.0.2/30 in the container
//                                                        default via 10.99.0.1
//
// A namespace we create plays "the host", so the machine's own namespace is never touched.
// Proves: ping host -> container and container -> host over the pair, and that the container's
// default route points at the host end. Run: npx tsx examples/host-to-namespace.ts
import { VethPair } from '../lib'
import { describePing, ping, red, runExample } from './common'

const HOST_IP = '10.99.0.1'
const CONTAINER_IP = '10.99.0.2'
const PREFIX = 30

void runExample('the host talks to a namespace (veth pair, no bridge)', async (t, steps) => {
  const host = await steps.run(
    'create the namespace playing the host',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('host'),
  )
  const c = await steps.run(
    'create the container namespace',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('container'),
  )
  const H = host.name!
  const C = c.name!

  const pair = await steps.run(
    'veth veth-c (host) <-> eth0 inside the container, both up',
    [`ip -n ${H} link add veth-c up type veth peer name eth0 netns ${C}`, `ip -n ${C} link set eth0 up`],
    () => VethPair.create({ name: 'veth-c', namespace: host, up: true, peer: { name: 'eth0', namespace: c, up: true } }),
  )

  await steps.run(`address ${HOST_IP}/${PREFIX} on veth-c (host)`, `ip -n ${H} addr add ${HOST_IP}/${PREFIX} dev veth-c`, () =>
    pair.host.addAddress(`${HOST_IP}/${PREFIX}`),
  )
  await steps.run(`address ${CONTAINER_IP}/${PREFIX} on eth0 (container)`, `ip -n ${C} addr add ${CONTAINER_IP}/${PREFIX} dev eth0`, () =>
    pair.peer.addAddress(`${CONTAINER_IP}/${PREFIX}`),
  )
  await steps.run(`default route via ${HOST_IP} in the container`, `ip -n ${C} route add default via ${HOST_IP} dev eth0`, () =>
    c.routes.add({ to: 'default', via: HOST_IP, dev: pair.peer }),
  )

  // Read back what the kernel holds.
  let ok = true
  const addrs = await steps.run('read back the container addresses', `ip -n ${C} -4 addr show`, () => c.addresses())
  console.log(
    `       ${addrs
      .filter((x) => x.family === 4)
      .map((x) => `${x.ifname} ${x.cidr}`)
      .join(' | ')}`,
  )
  const routes = await steps.run('read back the container routes', `ip -n ${C} route show`, () => c.routes.list({ family: 4 }))
  console.log(`       ${routes.map((r) => `${r.to}${r.via ? ` via ${r.via}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`).join(' | ')}`)
  const def = routes.find((r) => r.to === 'default')
  if (def?.via !== HOST_IP || def.dev !== 'eth0') {
    console.log(red(`       expected: default via ${HOST_IP} dev eth0`))
    ok = false
  }

  const results = []
  for (const [from, to, what] of [
    [host, CONTAINER_IP, 'host -> container'],
    [c, HOST_IP, 'container -> host'],
  ] as const) {
    const r = await steps.run(`ping ${what} (${to})`, `ip netns exec ${from.name} ping -c 1 -W 2 ${to}`, () =>
      ping(from, to, { label: `${t.roles.get(from.name!)} (${from.name})` }),
    )
    console.log(`       ${describePing(r)}`)
    results.push(r)
  }
  const passed = results.filter((r) => r.ok).length
  console.log(`\nproved: host and container reach each other over one veth pair, the container routes via the host: ${passed}/${results.length} pings replied`)
  return ok && passed === results.length
})
