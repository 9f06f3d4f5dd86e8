// A network's NAT side from its records (lib/nat/network.ts), end to end with real traffic: made
// before its bridge exists, checked against the kernel, put back after `nft flush ruleset` (what
// `systemctl reload nftables` or a firewall manager does), removed without a trace.
//
//   out 10.200.0.2 ── wan 10.200.0.1 (host) ── br0 172.18.0.1/16 ── c1 172.18.0.10, c2 172.18.0.11
//                                            ── br1 172.19.0.1/16 ── c3 172.19.0.10
import { strict as assert } from 'node:assert'
import { Bridge, NatRule, type Namespace } from '../../lib'
import {
  checkNetworkNat,
  createNetworkNat,
  guardPort,
  newNetworkIds,
  removeNetworkNat,
  restoreNetworkNat,
  type EndpointNat,
  type NetworkNat,
} from '../../lib/nat'
import { Sandbox, sh } from '../helpers'
import { C1, C2, HOST_WAN, OUT_IP, attach, nftText, request, serve, stopAll, topology, type Topology } from '../nat-helpers'

const C3 = '172.19.0.10'

async function macOf(ns: Namespace): Promise<string> {
  return (await (await ns.link('eth0')).info()).mac
}

describe("a network's NAT side from its records: create, check, restore, remove (issue 11)", function () {
  this.timeout(120000)
  const sb = new Sandbox()
  let t: Topology
  let c3: Namespace
  let n0: NetworkNat, n1: NetworkNat

  beforeEach(async () => {
    t = await topology(sb)
    c3 = await sb.ns()
    const br1 = await Bridge.create({ name: 'br1', namespace: t.host, up: true })
    await br1.addAddress('172.19.0.1/16')
    await attach(t.host, br1, c3, 'veth-c3', C3, 16, '172.19.0.1')
    const base = { masquerade: true, internal: false, icc: true, antiSpoofing: true }
    n0 = { ...base, bridge: 'br0', subnets: ['172.18.0.0/16'], ids: newNetworkIds({ ...base, subnets: ['172.18.0.0/16'] }), endpoints: [] }
    n1 = { ...base, bridge: 'br1', subnets: ['172.19.0.0/16'], ids: newNetworkIds({ ...base, subnets: ['172.19.0.0/16'] }), endpoints: [] }
    await createNetworkNat(t.host, n0)
    await createNetworkNat(t.host, n1)
    const ep = async (c: Namespace, hostIf: string, ip: string): Promise<EndpointNat> => {
      const e = { hostIf, mac: await macOf(c), addresses: [ip], ports: [] }
      await guardPort(t.host, e)
      return e
    }
    n0.endpoints.push(await ep(t.c1, 'veth-c1', C1), await ep(t.c2, 'veth-c2', C2))
    n1.endpoints.push(await ep(c3, 'veth-c3', C3))
    const pub = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    n0.endpoints[0]!.ports.push({ id: pub.id, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    await serve(t.c1, 'tcp', 80, 'c1')
    await serve(t.out, 'tcp', 7000, 'out')
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  /** The reachability the two networks promise: published port, masquerade, isolation, no direct routing. */
  async function promised(what: string): Promise<void> {
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1 ${OUT_IP}`, `${what}: the published port`)
    assert.equal(await request(t.c2, 'tcp', OUT_IP, 7000), `out ${HOST_WAN}`, `${what}: masquerade`)
    assert.equal(await request(c3, 'tcp', C1, 80), null, `${what}: br1 -> br0 directly`)
    assert.match((await request(c3, 'tcp', HOST_WAN, 8080)) ?? '', /^c1 /, `${what}: br1 -> br0's published port through the host`)
    assert.equal(await request(t.out, 'tcp', C1, 80), null, `${what}: direct routing from outside`)
  }

  it('check finds nothing on a clean setup; after nft flush ruleset it reports what is missing and restore puts it back', async () => {
    await t.out.routes.add({ to: '172.18.0.0/16', via: HOST_WAN })
    await promised('before')
    assert.deepEqual(await checkNetworkNat(t.host, n0), [])
    assert.deepEqual(await checkNetworkNat(t.host, n1), [])
    const before = await nftText(t.host)

    await sh('ip', ['netns', 'exec', t.host.name!, 'nft', 'flush', 'ruleset'])
    assert.match((await request(c3, 'tcp', C1, 80)) ?? '', /^c1 /, 'after the flush the networks talk directly')
    const problems = await checkNetworkNat(t.host, n0)
    const objects = problems.map((p) => p.object)
    assert.ok(objects.includes('nft inet netns-kit'), `the inet table: ${JSON.stringify(problems)}`)
    assert.ok(objects.includes('nft bridge netns-kit'), 'the bridge table')
    assert.ok(
      problems.some((p) => /masquerade 172\.18\.0\.0\/16/.test(p.object)),
      'the masquerade rule',
    )
    assert.ok(
      problems.some((p) => /published port tcp \*:8080/.test(p.object)),
      'the published port',
    )
    assert.ok(
      problems.some((p) => /anti-spoofing of veth-c1/.test(p.object)),
      'the anti-spoofing elements',
    )
    assert.ok(
      problems.every((p) => p.kind === 'missing'),
      'all missing',
    )
    assert.equal(await nftText(t.host), '', 'check changed nothing')

    const restored = [...(await restoreNetworkNat(t.host, n0)), ...(await restoreNetworkNat(t.host, n1))]
    assert.ok(restored.length >= 10, restored.join('\n'))
    assert.deepEqual(await checkNetworkNat(t.host, n0), [])
    assert.deepEqual(await checkNetworkNat(t.host, n1), [])
    assert.deepEqual(await restoreNetworkNat(t.host, n0), [], 'a second restore has nothing to do')
    await promised('after restore')
    // The same ruleset as before, but for handles and element order.
    const norm = (s: string) =>
      s
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .sort()
        .join('\n')
    assert.equal(norm(await nftText(t.host)), norm(before))
  })

  it('repairs a damaged skeleton chain by chain, and reports forwarding turned off', async () => {
    await sh('ip', ['netns', 'exec', t.host.name!, 'nft', 'flush', 'chain', 'inet', 'netns-kit', 'forward'])
    await sh('ip', [
      'netns',
      'exec',
      t.host.name!,
      'nft',
      'delete',
      'rule',
      'bridge',
      'netns-kit',
      'spoof',
      'handle',
      String(
        JSON.parse((await sh('ip', ['netns', 'exec', t.host.name!, 'nft', '-j', '-a', 'list', 'chain', 'bridge', 'netns-kit', 'spoof'])).stdout).nftables.find(
          (o: any) => o.rule,
        )?.rule.handle,
      ),
    ])
    await sh('ip', ['netns', 'exec', t.host.name!, 'nft', 'add', 'rule', 'inet', 'netns-kit', 'inbound', 'accept'])
    await t.host.sysctl.set('net.ipv4.ip_forward', 0)
    const problems = await checkNetworkNat(t.host, n0)
    assert.ok(
      problems.some((p) => p.object === 'nft inet netns-kit chain forward' && p.kind === 'missing'),
      JSON.stringify(problems),
    )
    assert.ok(
      problems.some((p) => p.object === 'nft bridge netns-kit chain spoof' && /mac/.test(p.message)),
      'a missing rule of the spoof chain',
    )
    assert.ok(
      problems.some((p) => p.object === 'nft inet netns-kit chain inbound' && p.kind === 'different'),
      'a foreign accept in the inbound chain',
    )
    assert.ok(problems.some((p) => p.object === 'sysctl net.ipv4.ip_forward' && p.kind === 'setting'))
    await restoreNetworkNat(t.host, n0)
    assert.deepEqual(await checkNetworkNat(t.host, n0), [])
    await t.out.routes.add({ to: '172.18.0.0/16', via: HOST_WAN })
    await promised('after repair')
  })

  it('remove leaves no line naming the bridge or its subnet, while another network stays (input 4)', async () => {
    await removeNetworkNat(t.host, n0)
    const text = await nftText(t.host)
    for (const s of ['br0', '172.18.', 'veth-c1', 'veth-c2']) assert.ok(!text.includes(s), `"${s}" is still in:\n${text}`)
    assert.ok(text.includes('br1'), 'the other network stays')
    await removeNetworkNat(t.host, n1)
    assert.equal(await nftText(t.host), '', 'the last network takes the tables with it')
  })
})
