// A macvlan network: containers sit directly on the host's LAN, each with its own MAC.
//
//   LAN namespace: lan1 10.95.0.1/24 (the LAN's router, the network's gateway)
//      │ veth
//   host namespace: lan0 (the parent; no address)
//      ├── macvlan eth0 in container a, 10.95.0.2/24, default via 10.95.0.1
//      └── macvlan eth0 in container b, 10.95.0.3/24, default via 10.95.0.1
//
// Each macvlan is one RTM_NEWLINK sent in the host namespace, created directly inside its
// container. The records are kept in memory here (MemoryStore); the default is the SQLite store
// under /run/netns-kit. Proves: both containers reach the gateway and each other (bridge mode),
// and the LAN sees each container's own MAC. Run: npx tsx examples/macvlan.ts
import { MacvlanNetwork, MemoryStore, VethPair } from '../lib'
import { describePing, ping, runExample } from './common'

void runExample('a macvlan network on a parent device', async (t, steps) => {
  const host = await t.namespace('host')
  const lan = await t.namespace('LAN router')
  const pair = await steps.run(
    'parent lan0 (host) <-> lan1 (LAN router, 10.95.0.1/24)',
    [`ip -n ${host.name} link add lan0 up type veth peer name lan1 netns ${lan.name}`, `ip -n ${lan.name} addr add 10.95.0.1/24 dev lan1`],
    async () => {
      const p = await VethPair.create({ name: 'lan0', namespace: host, up: true, peer: { name: 'lan1', namespace: lan, up: true } })
      await p.peer.addAddress('10.95.0.1/24')
      return p
    },
  )
  const net = await steps.run(
    'macvlan network "lan" on lan0, mode bridge',
    'docker network create -d macvlan -o parent=lan0 --subnet 10.95.0.0/24 --gateway 10.95.0.1 lan',
    () => MacvlanNetwork.create({ name: 'lan', parent: pair.host, mode: 'bridge', subnet: '10.95.0.0/24', gateway: '10.95.0.1', store: new MemoryStore() }),
  )
  const a = await t.namespace('container a')
  const b = await t.namespace('container b')
  const ea = await steps.run(
    'connect container a',
    (e) => [
      `ip -n ${host.name} link add link lan0 name eth0 netns ${a.name} address ${e.mac} up type macvlan mode bridge`,
      `ip -n ${a.name} addr add ${e.ip}/24 dev eth0; ip -n ${a.name} route add default via 10.95.0.1`,
    ],
    () => net.connect(a),
  )
  const eb = await steps.run(
    'connect container b',
    (e) => `... ${e.ip} ${e.mac}`,
    () => net.connect(b),
  )
  const results = [
    await ping(a, '10.95.0.1', { label: 'a' }),
    await ping(b, '10.95.0.1', { label: 'b' }),
    await ping(a, eb.ip, { label: 'a' }),
    await ping(lan, ea.ip, { label: 'LAN router' }),
  ]
  for (const r of results) console.log(`       ${describePing(r)}`)
  const neigh = (await lan.neighbours.list({ dev: 'lan1' })).find((n) => n.ip === ea.ip)
  console.log(`       the LAN sees ${ea.ip} at ${neigh?.mac} (container a's own MAC: ${ea.mac})`)
  return results.every((r) => r.ok) && neigh?.mac === ea.mac
})
