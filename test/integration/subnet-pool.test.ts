import { strict as assert } from 'node:assert'
import { MemoryStore, VethPair, findFreeSubnet, prefixesInUse } from '../../lib'
import { Sandbox, ipj } from '../helpers'

describe('subnet pool (reading the kernel)', () => {
  const sb = new Sandbox()
  afterEach(async () => {
    await sb.cleanup()
  })

  it('skips subnets overlapping routes and addresses of the namespace, and other networks', async () => {
    const host = await sb.ns()
    const other = await sb.ns()
    const v = await VethPair.create({ name: 'up0', namespace: host, up: true, peer: { name: 'up1', namespace: other, up: true } })
    await v.host.addAddress('10.200.0.1/24')
    await host.routes.add({ to: '172.17.0.0/16', via: '10.200.0.2' })
    await host.routes.add({ to: 'default', via: '10.200.0.2' })
    // witness: the kernel has what we think it has
    assert.ok((await ipj(host, 'route', 'show')).some((r) => r.dst === '172.17.0.0/16'))

    const used = await prefixesInUse(host)
    assert.ok(used.includes('172.17.0.0/16') && used.includes('10.200.0.0/24') && !used.includes('default'))
    assert.equal(await findFreeSubnet({ namespace: host }), '172.18.0.0/16')

    // an address inside the next candidate, on a link of the namespace
    await v.host.addAddress('172.18.9.9/24')
    assert.equal(await findFreeSubnet({ namespace: host }), '172.19.0.0/16')

    // networks already in the store are skipped too: the store's automatic choice, fed the prefixes in use
    const store = new MemoryStore()
    const me = { dev: '4', ino: String(host.id) }
    await store.beginCreateNetwork({ name: 'taken', driver: 'bridge', host: me, pools: [{ subnet: '172.19.0.0/16' }] })
    const net = await store.beginCreateNetwork({ name: 'auto', driver: 'bridge', host: me, pools: [{ auto: true, exclude: await prefixesInUse(host) }] })
    assert.deepEqual(net.pools, [{ family: 4, subnet: '172.20.0.0/16', gateway: '172.20.0.1' }])
    const net2 = await store.beginCreateNetwork({ name: 'auto2', driver: 'bridge', host: me, pools: [{ auto: true, exclude: await prefixesInUse(host) }] })
    assert.equal(net2.pools[0]!.subnet, '172.21.0.0/16')

    // the other namespace has none of these routes: its first choice is Docker's first
    assert.equal(await findFreeSubnet({ namespace: other }), '172.17.0.0/16')
  })

  it('falls back to 192.168.x.0/24 slices when 172.16.0.0/12 is routed', async () => {
    const host = await sb.ns()
    const lo = await host.link('lo')
    await host.routes.add({ to: '172.16.0.0/12', dev: lo })
    await host.routes.add({ to: '192.168.0.0/24', dev: lo })
    assert.equal(await findFreeSubnet({ namespace: host }), '192.168.1.0/24')
  })
})
