// An overlay network across three "hosts", its control plane in etcd.
//
//   underlay namespace: bridge ubr 192.168.90.254/24 (the LAN between the hosts)
//     ├── uh0 ── ul0 192.168.90.1 in host0   (OverlayAgent host0, bridge nkbVNI + vxlan nkxVNI)
//     ├── uh1 ── ul0 192.168.90.2 in host1   (OverlayAgent host1, ...)
//     └── uh2 ── ul0 192.168.90.3 in host2   (OverlayAgent host2, ...)
//   one container per host on the overlay 10.90.0.0/24, MTU 1450, default via 10.90.0.1 (each host's bridge)
//
// etcd is started here on 127.0.0.1 (loopback only) with random ports and its data in a temporary
// folder, and stopped at the end. The three agents run in this process (a runtime embeds one per
// host); only their kernel programming happens in the host namespaces. Proves: every container
// pings the others across hosts; the FDB entry of a container joining on host0 appears on host1
// (time printed); when host2's agent stops, its entries vanish from the others once its lease expires.
// Run: npx tsx examples/overlay-three-hosts.ts   (needs root and the etcd binary: apt-get install etcd-server)
import { Bridge, OverlayAgent, OverlayNetwork, VethPair, type Namespace, type OverlayEndpoint } from '../lib'
import { startEtcd } from '../test/etcd'
import { describePing, formatMs, ping, red, runExample } from './common'

const vtep = (i: number) => `192.168.90.${i + 1}`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

void runExample('an overlay network across three hosts (vxlan, membership and IPAM in etcd)', async (t, steps) => {
  const etcd = await steps.run(
    'start a throwaway etcd on 127.0.0.1',
    (e) => `etcd --listen-client-urls ${e.endpoint} --data-dir ${e.dataDir} ...`,
    () => startEtcd(),
  )
  const agents: OverlayAgent[] = []
  try {
    const under = await steps.run(
      'the underlay namespace with bridge ubr',
      (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link add ubr up type bridge`,
      async () => {
        const ns = await t.namespace('underlay')
        const br = await Bridge.create({ name: 'ubr', namespace: ns, up: true })
        await br.addAddress('192.168.90.254/24')
        return ns
      },
    )
    const hosts: { ns: Namespace; agent: OverlayAgent; net: OverlayNetwork }[] = []
    for (let i = 0; i < 3; i++) {
      const ns = await steps.run(
        `host${i}: namespace, underlay ${vtep(i)}`,
        (n) => [
          `ip netns add ${n.name}`,
          `ip -n ${under.name} link add uh${i} master ubr up type veth peer name ul0 netns ${n.name}`,
          `ip -n ${n.name} addr add ${vtep(i)}/24 dev ul0`,
        ],
        async () => {
          const n = await t.namespace(`host${i}`)
          const v = await VethPair.create({
            name: `uh${i}`,
            namespace: under,
            master: await Bridge.open('ubr', { namespace: under }),
            up: true,
            peer: { name: 'ul0', namespace: n, up: true },
          })
          await v.peer.addAddress(`${vtep(i)}/24`)
          return n
        },
      )
      const agent = await steps.run(
        `host${i}: start the overlay agent (lease 2 s)`,
        `etcdctl lease grant 2; etcdctl put --lease=ID netns-kit/overlay/hosts/host${i} ...`,
        () => OverlayAgent.start({ etcd: etcd.endpoint, hostId: `host${i}`, leaseTtl: 2, underlay: { namespace: ns, address: vtep(i), device: 'ul0' } }),
      )
      agents.push(agent)
      const net = await steps.run(
        `host${i}: join overlay network "ovl" 10.90.0.0/24`,
        (n) => [
          `ip -n ${ns.name} link add nkb${n.vni} type bridge; ip -n ${ns.name} addr add 10.90.0.1/24 dev nkb${n.vni}`,
          `ip -n ${ns.name} link add nkx${n.vni} master nkb${n.vni} type vxlan id ${n.vni} local ${vtep(i)} dev ul0 dstport 4789 nolearning proxy`,
          `nft add rule inet netns-kit postrouting ip saddr 10.90.0.0/24 oifname != "nkb${n.vni}" masquerade`,
        ],
        () => OverlayNetwork.create({ name: 'ovl', subnet: '10.90.0.0/24', agent }),
      )
      hosts.push({ ns, agent, net })
    }
    const eps: { c: Namespace; ep: OverlayEndpoint; host: number }[] = []
    for (let i = 0; i < 3; i++) {
      const c = await t.namespace(`container on host${i}`)
      const ep = await steps.run(
        `host${i}: connect a container`,
        (e) => [
          `ip -n ${hosts[i]!.ns.name} link add ${e.hostInterface} mtu 1450 master nkb${e.network.vni} up type veth peer name eth0 netns ${c.name} address ${e.mac}`,
          `ip -n ${c.name} addr add ${e.ip}/24 dev eth0; ip -n ${c.name} route add default via ${e.gateway}`,
        ],
        () => hosts[i]!.net.connect(c),
      )
      console.log(`       ${ep.ip} ${ep.mac}`)
      eps.push({ c, ep, host: i })
    }
    // Wait until each host has the other two containers programmed.
    const vx = (i: number) => hosts[i]!.net.vxlan
    await steps.run('wait until every host has the FDB entries of the containers elsewhere', 'bridge fdb show dev nkxVNI', async () => {
      for (let k = 0; k < 200; k++) {
        const counts = await Promise.all([0, 1, 2].map(async (i) => (await vx(i).fdb.list()).filter((e) => e.self && e.mac !== '00:00:00:00:00:00').length))
        if (counts.every((n) => n === 2)) return
        await sleep(10)
      }
      throw new Error('entries missing')
    })
    let ok = true
    for (const a of eps)
      for (const b of eps) {
        if (a === b) continue
        const r = await ping(a.c, b.ep.ip, { label: `container@host${a.host}` })
        console.log(`       ${describePing(r)}`)
        ok &&= r.ok
      }

    // Join latency: a new container on host0, its FDB entry on host1.
    const c = await t.namespace('late container on host0')
    const ep = await hosts[0]!.net.connect(c)
    const t0 = process.hrtime.bigint()
    while (!(await vx(1).fdb.list()).some((e) => e.self && e.mac === ep.mac)) await sleep(1)
    console.log(`\n       join on host0 -> FDB entry on host1: ${formatMs(Number(process.hrtime.bigint() - t0) / 1e6)}`)

    // host2's agent dies: its lease expires and the others forget its container.
    await steps.run('host2: the agent stops without revoking its lease (as a crash)', 'kill the agent', () => hosts[2]!.agent.stop({ revoke: false }))
    const s0 = Date.now()
    while ((await vx(0).fdb.list()).some((e) => e.self && e.mac === eps[2]!.ep.mac)) {
      if (Date.now() - s0 > 6000) {
        console.log(red("       host2's entries are still on host0"))
        ok = false
        break
      }
      await sleep(20)
    }
    console.log(`       host2's entries left host0 ${formatMs(Date.now() - s0)} after its agent stopped (lease 2 s)`)
    console.log(`\nproved: containers on three hosts reach each other over the vxlan overlay programmed from etcd`)
    return ok
  } finally {
    for (const a of agents) await a.stop().catch(() => {})
    await etcd.stop()
  }
})
