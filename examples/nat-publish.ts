// The outside reaches a container through a published port: docker run -p 8080:80 and -P
// (NatRule.publish).
//
//   outside (a remote machine)           host namespace                         containers
//   eth0 10.200.0.2/24 ─── veth ─── wan 10.200.0.1/24
//                                      br0 172.18.0.1/16 ─── veth ─── eth0 172.18.0.10/16 (web, server on :80)
//                                                        ─── veth ─── eth0 172.18.0.11/16 (other)
//
// Proves: the outside reaches web:80 through 10.200.0.1:8080 and web sees the real client address;
// a port picked from ip_local_port_range (-P) works too; the host itself and another container on
// the same bridge (hairpin) reach it through the host's address; 127.0.0.1:8080 does not (not asked
// for); unpublished ports stay closed; after delete() the port is closed again.
// Each mapping is one element of an nftables map (`nft list map inet netns-kit pub4any`).
// Run: npx tsx examples/nat-publish.ts
import { Bridge, NatRule, VethPair, type Namespace } from '../lib'
import { ask, green, red, runExample, whoamiServer } from './common'

void runExample('the outside reaches a container through a published port (-p and -P)', async (t, steps) => {
  const host = await steps.run(
    'create the host namespace',
    (ns) => `ip netns add ${ns.name} && ip -n ${ns.name} link set lo up`,
    () => t.namespace('host'),
  )
  const out = await steps.run(
    'create the outside namespace (a remote machine)',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('outside'),
  )
  const web = await steps.run(
    'create the container "web"',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('web'),
  )
  const other = await steps.run(
    'create the container "other"',
    (ns) => `ip netns add ${ns.name}`,
    () => t.namespace('other'),
  )
  const H = host.name!,
    O = out.name!

  const wan = await steps.run(
    'veth wan (host) <-> eth0 (outside), 10.200.0.1/24 and 10.200.0.2/24',
    [
      `ip -n ${H} link add wan up type veth peer name eth0 netns ${O}`,
      `ip -n ${H} addr add 10.200.0.1/24 dev wan`,
      `ip -n ${O} addr add 10.200.0.2/24 dev eth0`,
    ],
    async () => {
      const p = await VethPair.create({ name: 'wan', namespace: host, up: true, peer: { name: 'eth0', namespace: out, up: true } })
      await p.host.addAddress('10.200.0.1/24')
      await p.peer.addAddress('10.200.0.2/24')
      return p
    },
  )
  void wan
  const br = await steps.run(
    'bridge br0 172.18.0.1/16 in the host',
    [`ip -n ${H} link add br0 up type bridge`, `ip -n ${H} addr add 172.18.0.1/16 dev br0`],
    async () => {
      const b = await Bridge.create({ name: 'br0', namespace: host, up: true })
      await b.addAddress('172.18.0.1/16')
      return b
    },
  )
  const wire = async (c: Namespace, hostIf: string, ip: string) => {
    const v = await VethPair.create({ name: hostIf, namespace: host, master: br, up: true, peer: { name: 'eth0', namespace: c, up: true } })
    // Hairpin mode: where br_netfilter is on (bridge-nf-call-iptables=1), the answer to a container
    // reaching its own published port is bridged back out the port it came in on (as Docker sets it).
    await br.setPort(v.host, { hairpin: true })
    await v.peer.addAddress(`${ip}/16`)
    await c.routes.add({ to: 'default', via: '172.18.0.1' })
  }
  await steps.run(
    'web: eth0 172.18.0.10/16 on br0, default via 172.18.0.1',
    [`ip -n ${H} link add veth-web master br0 up type veth peer name eth0 netns ${web.name} ...`, `bridge -n ${H} link set dev veth-web hairpin on`],
    () => wire(web, 'veth-web', '172.18.0.10'),
  )
  await steps.run(
    'other: eth0 172.18.0.11/16 on br0, default via 172.18.0.1',
    `ip -n ${H} link add veth-other master br0 up type veth peer name eth0 netns ${other.name} ...`,
    () => wire(other, 'veth-other', '172.18.0.11'),
  )
  await steps.run(
    'a server in web on :80 (and :81, never published), answering with the source address it sees',
    `ip netns exec ${web.name} socat TCP-LISTEN:80,fork ...`,
    async () => {
      await whoamiServer(web, '0.0.0.0', 80, 'web saw')
      await whoamiServer(web, '0.0.0.0', 81, 'web:81 saw')
    },
  )

  const p = await steps.run(
    'publish 8080 -> web:80 (docker run -p 8080:80)',
    `ip netns exec ${H} nft add element inet netns-kit pub4any '{ tcp . 8080 : 172.18.0.10 . 80 }'`,
    () => NatRule.publish({ namespace: host, protocol: 'tcp', hostPort: 8080, containerIp: '172.18.0.10', containerPort: 80 }),
  )
  const auto = await steps.run('publish a free port -> web:80 (docker run -P)', `(a free port of net.ipv4.ip_local_port_range)`, () =>
    NatRule.publish({ namespace: host, protocol: 'tcp', containerIp: '172.18.0.10', containerPort: 80 }),
  )
  console.log(`       -P gave host port ${auto.hostPort}`)

  const checks: [string, Namespace, string, number, (a: string | null) => boolean, string][] = [
    ['outside -> 10.200.0.1:8080', out, '10.200.0.1', 8080, (a) => a === 'web saw 10.200.0.2', 'answers, and web sees the real client 10.200.0.2'],
    [`outside -> 10.200.0.1:${auto.hostPort} (-P)`, out, '10.200.0.1', auto.hostPort!, (a) => a === 'web saw 10.200.0.2', 'answers'],
    ['host -> 10.200.0.1:8080', host, '10.200.0.1', 8080, (a) => a?.startsWith('web saw') === true, 'answers'],
    ['other container -> 10.200.0.1:8080 (hairpin)', other, '10.200.0.1', 8080, (a) => a?.startsWith('web saw') === true, 'answers'],
    ['web -> 10.200.0.1:8080 (its own port)', web, '10.200.0.1', 8080, (a) => a?.startsWith('web saw') === true, 'answers'],
    ['host -> 127.0.0.1:8080', host, '127.0.0.1', 8080, (a) => a === null, 'no answer: 127.0.0.1 was not published (localhost: true would)'],
    ['outside -> 10.200.0.1:81 (unpublished)', out, '10.200.0.1', 81, (a) => a === null, 'no answer'],
  ]
  let ok = true
  for (const [what, from, addr, port, good, expect] of checks) {
    const a = await steps.run(what, `ip netns exec ${from.name} socat - TCP:${addr}:${port}`, () => ask(from, addr, port))
    const pass = good(a)
    ok &&= pass
    console.log(`       ${pass ? green(`${expect}${a ? `: "${a}"` : ''}`) : red(`expected: ${expect}; got ${a}`)}`)
  }
  const listed = await steps.run('read the mappings back from the kernel', `ip netns exec ${H} nft list map inet netns-kit pub4any`, () =>
    NatRule.list({ namespace: host }),
  )
  console.log(`       ${listed.map(String).join(', ')}`)
  await steps.run('unpublish both', `ip netns exec ${H} nft delete element inet netns-kit pub4any '{ tcp . 8080 }'  (and the -P one)`, async () => {
    await p.delete()
    await auto.delete()
  })
  const closed = await steps.run('outside -> 10.200.0.1:8080 after delete', `ip netns exec ${O} socat - TCP:10.200.0.1:8080`, () =>
    ask(out, '10.200.0.1', 8080),
  )
  ok &&= closed === null
  console.log(`       ${closed === null ? green('no answer: the port is closed again') : red(`unexpected answer ${closed}`)}`)
  console.log(
    `\nproved: ${ok ? 'published ports reach the container from outside, from the host and from its bridge, and nothing else is opened' : red('something did not hold (see above)')}`,
  )
  return ok
})
