// Two namespaces talk through a bridge.
//
//   host namespace: bridge br0 (no address: a plain layer-2 switch)
//     ├── veth-a ──── veth ──── eth0 in container a, 10.77.0.1/24
//     └── veth-b ──── veth ──── eth0 in container b, 10.77.0.2/24
//
// Each veth pair is one RTM_NEWLINK: the peer is created directly inside its container as eth0,
// with the host end attached to br0 and up in the same message (no create-then-move-then-rename).
// Proves: both host ends are ports of br0, each peer is eth0 inside its container, and ping works
// both ways between the containers. Run: npx tsx examples/bridge-two-namespaces.ts
import { Bridge, VethPair } from '../lib'
import { describePing, ping, red, runExample } from './common'

void runExample('two namespaces talk through a bridge', async (t, steps) => {
  const host = await steps.run(
    'create the host namespace',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('host'),
  )
  const a = await steps.run(
    'create container namespace a',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('a'),
  )
  const b = await steps.run(
    'create container namespace b',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('b'),
  )
  const H = host.name!

  const br = await steps.run('bridge br0 in the host namespace, up', `ip -n ${H} link add br0 up type bridge`, () =>
    Bridge.create({ name: 'br0', namespace: host, up: true }),
  )

  const ends = []
  for (const [c, hostIf, cidr] of [
    [a, 'veth-a', '10.77.0.1/24'],
    [b, 'veth-b', '10.77.0.2/24'],
  ] as const) {
    const pair = await steps.run(
      `veth ${hostIf} on br0 <-> eth0 created inside ${t.roles.get(c.name!)}`,
      [`ip -n ${H} link add ${hostIf} master br0 up type veth peer name eth0 netns ${c.name}`, `ip -n ${c.name} link set eth0 up`],
      () => VethPair.create({ name: hostIf, namespace: host, master: br, up: true, peer: { name: 'eth0', namespace: c, up: true } }),
    )
    await steps.run(`address ${cidr} on eth0 in ${t.roles.get(c.name!)}`, `ip -n ${c.name} addr add ${cidr} dev eth0`, () => pair.peer.addAddress(cidr))
    ends.push({ pair, container: c })
  }

  // What the kernel says now.
  let ok = true
  const ports = (await steps.run('read back the ports of br0', `bridge -n ${H} link show   # or: ip -n ${H} link show master br0`, () => br.ports()))
    .map((l) => l.name)
    .sort()
  console.log(`       ports of br0: ${ports.join(', ')}`)
  if (ports.join() !== 'veth-a,veth-b') {
    console.log(red('       expected veth-a, veth-b'))
    ok = false
  }
  for (const { pair, container } of ends) {
    const peer = await pair.peer.info()
    const hostEnd = await pair.host.info()
    console.log(
      `       ${pair.host.name}: master ${hostEnd.master === br.index ? 'br0' : hostEnd.master}, ${hostEnd.operState}; ` +
        `peer ${peer.name} (${peer.kind}, ${peer.mac}) in ${pair.peer.namespace.name}, ${peer.operState}`,
    )
    if (peer.name !== 'eth0' || peer.kind !== 'veth' || !pair.peer.namespace.equals(container) || hostEnd.master !== br.index) {
      console.log(red(`       expected eth0 (veth) inside ${container.name}, host end a port of br0`))
      ok = false
    }
  }

  // Prove it with traffic, both ways.
  const results = []
  for (const [from, to, role] of [
    [a, '10.77.0.2', 'a -> b'],
    [b, '10.77.0.1', 'b -> a'],
  ] as const) {
    const r = await steps.run(`ping ${role} (${to})`, `ip netns exec ${from.name} ping -c 1 -W 2 ${to}`, () =>
      ping(from, to, { label: `${t.roles.get(from.name!)} (${from.name})` }),
    )
    console.log(`       ${describePing(r)}`)
    results.push(r)
  }
  const passed = results.filter((r) => r.ok).length
  console.log(`\nproved: containers a and b reach each other through br0 in the host namespace: ${passed}/${results.length} pings replied`)
  return ok && passed === results.length
})
