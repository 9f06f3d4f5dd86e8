// A container reaches the outside through masquerade (NatRule.masquerade).
//
//   outside (a remote machine)           host namespace                         container
//   eth0 10.200.0.2/24 ─── veth ─── wan 10.200.0.1/24
//   server on :7000 that answers          br0 172.18.0.1/16 ─── veth ─── eth0 172.18.0.10/16
//   with the address it sees                                               default via 172.18.0.1
//
// The outside has no route to 172.18.0.0/16, as a machine on the Internet has none to a
// container subnet. Proves: without masquerade the container cannot get an answer; with
// `nft add rule inet netns-kit postrouting ip saddr 172.18.0.0/16 oifname != "br0" masquerade`
// (what NatRule.masquerade programs, over nf_tables netlink) it can, and the outside sees the
// host's address 10.200.0.1 as the source; after delete() it cannot again, and the table is gone.
// Run: npx tsx examples/nat-masquerade.ts
import { Bridge, NatRule, VethPair } from '../lib'
import { ask, green, red, runExample, whoamiServer } from './common'

void runExample('a container reaches the outside through masquerade', async (t, steps) => {
  const host = await steps.run(
    'create the host namespace',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('host'),
  )
  const out = await steps.run(
    'create the outside namespace (a remote machine)',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('outside'),
  )
  const c = await steps.run(
    'create the container namespace',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('container'),
  )
  const H = host.name!,
    O = out.name!,
    C = c.name!

  const wan = await steps.run('veth wan (host) <-> eth0 (outside), up', `ip -n ${H} link add wan up type veth peer name eth0 netns ${O}`, () =>
    VethPair.create({ name: 'wan', namespace: host, up: true, peer: { name: 'eth0', namespace: out, up: true } }),
  )
  await steps.run(
    '10.200.0.1/24 on wan, 10.200.0.2/24 on the outside',
    [`ip -n ${H} addr add 10.200.0.1/24 dev wan`, `ip -n ${O} addr add 10.200.0.2/24 dev eth0`],
    async () => {
      await wan.host.addAddress('10.200.0.1/24')
      await wan.peer.addAddress('10.200.0.2/24')
    },
  )
  const br = await steps.run(
    'bridge br0 172.18.0.1/16 in the host',
    [`ip -n ${H} link add br0 up type bridge`, `ip -n ${H} addr add 172.18.0.1/16 dev br0`],
    async () => {
      const b = await Bridge.create({ name: 'br0', namespace: host, up: true })
      await b.addAddress('172.18.0.1/16')
      return b
    },
  )
  const v = await steps.run(
    'veth into the container as eth0, host end on br0',
    `ip -n ${H} link add veth-c master br0 up type veth peer name eth0 netns ${C}`,
    () => VethPair.create({ name: 'veth-c', namespace: host, master: br, up: true, peer: { name: 'eth0', namespace: c, up: true } }),
  )
  await steps.run(
    '172.18.0.10/16 and a default route in the container',
    [`ip -n ${C} addr add 172.18.0.10/16 dev eth0`, `ip -n ${C} route add default via 172.18.0.1`],
    async () => {
      await v.peer.addAddress('172.18.0.10/16')
      await c.routes.add({ to: 'default', via: '172.18.0.1' })
    },
  )
  await steps.run(
    'a server on the outside, 10.200.0.2:7000, answering with the source address it sees',
    `ip netns exec ${O} socat TCP-LISTEN:7000,fork SYSTEM:'echo $SOCAT_PEERADDR'`,
    () => whoamiServer(out, '10.200.0.2', 7000, 'outside saw'),
  )

  const before = await steps.run('container -> outside, before masquerade', `ip netns exec ${C} socat - TCP:10.200.0.2:7000`, () => ask(c, '10.200.0.2', 7000))
  console.log(`       ${before === null ? green('no answer, as expected: the outside cannot route back to 172.18.0.10') : red(`unexpected answer: ${before}`)}`)

  const rule = await steps.run(
    'masquerade 172.18.0.0/16 leaving through anything but br0',
    `ip netns exec ${H} nft add rule inet netns-kit postrouting ip saddr 172.18.0.0/16 oifname != "br0" masquerade  (+ sysctl net.ipv4.ip_forward=1 in ${H} only)`,
    () => NatRule.masquerade({ namespace: host, source: '172.18.0.0/16', notOutInterface: 'br0' }),
  )
  console.log(`       ${String(rule)}; ip_forward in the host namespace: ${await host.sysctl.get('net.ipv4.ip_forward')}`)

  const after = await steps.run('container -> outside, with masquerade', `ip netns exec ${C} socat - TCP:10.200.0.2:7000`, () => ask(c, '10.200.0.2', 7000))
  const okAfter = after === 'outside saw 10.200.0.1'
  console.log(
    `       ${okAfter ? green(`answered: "${after}" (the host's address, not 172.18.0.10)`) : red(`expected "outside saw 10.200.0.1", got ${after}`)}`,
  )

  const listed = await steps.run('read the rules back from the kernel', `ip netns exec ${H} nft list table inet netns-kit`, () =>
    NatRule.list({ namespace: host }),
  )
  console.log(`       ${listed.map(String).join(', ')}`)

  await steps.run('delete the rule (its table goes with it)', `ip netns exec ${H} nft delete table inet netns-kit`, () => rule.delete())
  const gone = await steps.run('container -> outside, after delete', `ip netns exec ${C} socat - TCP:10.200.0.2:7000`, () => ask(c, '10.200.0.2', 7000))
  const okGone = gone === null
  console.log(`       ${okGone ? green('no answer again') : red(`unexpected answer: ${gone}`)}`)

  const ok = before === null && okAfter && okGone && listed.length === 1
  console.log(
    `\nproved: ${ok ? 'masquerade gives the container a way out with the host address, and only while the rule exists' : red('something did not hold (see above)')}`,
  )
  return ok
})
