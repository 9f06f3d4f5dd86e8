// NatRule.publishMany: several mappings in one atomic nf_tables batch (what Network.connect uses).
import { strict as assert } from 'node:assert'
import { NatRule } from '../../lib'
import { Sandbox } from '../helpers'
import { C1, C2, HOST_WAN, OUT_IP, request, serve, stopAll, topology, type Topology } from '../nat-helpers'

describe('NatRule.publishMany (one batch)', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  let t: Topology
  beforeEach(async () => {
    t = await topology(sb)
  })
  afterEach(async () => {
    await stopAll()
    await sb.cleanup()
  })

  it('publishes fixed and free (-P) ports in one batch; each rule deletes on its own', async () => {
    const rules = await NatRule.publishMany([
      { namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 },
      { namespace: t.host, protocol: 'tcp', containerIp: C1, containerPort: 81 },
      { namespace: t.host, protocol: 'tcp', containerIp: C2, containerPort: 81 },
      { namespace: t.host, protocol: 'udp', hostPort: 5353, containerIp: C2, containerPort: 53 },
    ])
    assert.equal(rules.length, 4)
    const [a, b, c, d] = rules as [NatRule, NatRule, NatRule, NatRule]
    assert.equal(a.hostPort, 8080)
    assert.notEqual(b.hostPort, c.hostPort, 'two -P mappings of one batch get different ports')
    assert.equal(new Set(rules.map((r) => r.id)).size, 4)
    await serve(t.c1, 'tcp', 80, 'c1-80')
    await serve(t.c1, 'tcp', 81, 'c1-81')
    await serve(t.c2, 'tcp', 81, 'c2-81')
    await serve(t.c2, 'udp', 53, 'c2-53')
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1-80 ${OUT_IP}`)
    assert.equal(await request(t.out, 'tcp', HOST_WAN, b.hostPort!), `c1-81 ${OUT_IP}`)
    assert.equal(await request(t.out, 'tcp', HOST_WAN, c.hostPort!), `c2-81 ${OUT_IP}`)
    assert.equal(await request(t.out, 'udp', HOST_WAN, 5353), `c2-53 ${OUT_IP}`)
    const listed = (await NatRule.list({ namespace: t.host })).filter((r) => r.kind === 'publish')
    assert.deepEqual(listed.map((r) => r.id).sort(), rules.map((r) => r.id).sort())
    await b.delete()
    assert.equal(await request(t.out, 'tcp', HOST_WAN, b.hostPort!), null)
    assert.equal(await request(t.out, 'tcp', HOST_WAN, 8080), `c1-80 ${OUT_IP}`, 'the others stay')
    for (const r of [a, c, d]) await r.delete()
    assert.deepEqual(await NatRule.list({ namespace: t.host }), [])
  })

  it('is all or nothing: one taken port fails the batch and publishes none of it', async () => {
    const first = await NatRule.publish({ namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C1, containerPort: 80 })
    await assert.rejects(
      NatRule.publishMany([
        { namespace: t.host, protocol: 'tcp', hostPort: 9090, containerIp: C2, containerPort: 90 },
        { namespace: t.host, protocol: 'tcp', containerIp: C2, containerPort: 91 },
        { namespace: t.host, protocol: 'tcp', hostPort: 8080, containerIp: C2, containerPort: 80 },
      ]),
      (e: Error & { code?: string }) => e.code === 'ERR_NETNS_KIT_PORT_ALLOCATED' && /8080/.test(e.message),
    )
    // A wildcard against an address-specific mapping on the same port: refused too.
    await assert.rejects(NatRule.publishMany([{ namespace: t.host, protocol: 'tcp', hostIp: HOST_WAN, hostPort: 8080, containerIp: C2, containerPort: 80 }]), {
      code: 'ERR_NETNS_KIT_PORT_ALLOCATED',
    })
    assert.deepEqual(
      (await NatRule.list({ namespace: t.host })).map((r) => r.id),
      [first.id],
    )
    await assert.rejects(NatRule.publishMany([{ namespace: t.host, protocol: 'tcp', hostPort: 0, containerIp: C2, containerPort: 80 }]), {
      code: 'ERR_OUT_OF_RANGE',
    })
    assert.deepEqual(await NatRule.publishMany([]), [])
    await first.delete()
  })
})
