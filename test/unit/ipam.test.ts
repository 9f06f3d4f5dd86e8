import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { FileStore, Ipam, IpamError, MemoryStore, type IpamStore } from '../../lib'
import { native } from '../../lib/kernel/binding'

type Coded = Error & { code: string }
const code = (c: string) => (e: Coded) => { assert.equal(e.code, c, e.message); return true }

function tmpRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nk-ipam-'))
}

// The same behaviour through the FileStore (transact under flock) and through the
// MemoryStore (the optimistic compare-and-swap loop a distributed store would use).
const stores: [string, () => IpamStore][] = [
  ['FileStore', () => new FileStore({ root: tmpRoot() })],
  ['MemoryStore', () => new MemoryStore()],
]

for (const [kind, makeStore] of stores) {
  describe(`Ipam over ${kind}`, () => {
    let ipam: Ipam
    beforeEach(() => { ipam = new Ipam({ store: makeStore() }) })
    afterEach(() => {
      const s = ipam.store
      if (s instanceof FileStore) fs.rmSync(s.root, { recursive: true, force: true })
    })

    it('hands out addresses in order after the gateway; the network is readable back', async () => {
      const net = await ipam.createNetwork('web', { subnet: '10.88.0.0/24' })
      assert.deepEqual(net.pools, [{ family: 4, subnet: '10.88.0.0/24', gateway: '10.88.0.1' }])
      const a = await ipam.allocate('web', { owner: 'ep1' })
      const b = await ipam.allocate('web', { owner: 'ep2' })
      assert.equal(a.address, '10.88.0.2')
      assert.equal(b.address, '10.88.0.3')
      assert.equal(a.prefixLength, 24)
      assert.equal(a.gateway, '10.88.0.1')
      assert.equal(a.owner, 'ep1')
      assert.ok(!Number.isNaN(Date.parse(a.allocatedAt)))
      assert.deepEqual((await ipam.allocations('web')).map((x) => [x.address, x.owner]), [['10.88.0.2', 'ep1'], ['10.88.0.3', 'ep2']])
      assert.deepEqual((await ipam.network('web')).id, net.id)
      assert.deepEqual((await ipam.networks()).map((n) => n.name), ['web'])
    })

    it('honours a requested address and refuses one taken, reserved or outside the subnet', async () => {
      await ipam.createNetwork('web', { subnet: '10.88.0.0/24', gateway: '10.88.0.254' })
      assert.equal((await ipam.allocate('web', { owner: 'a', ip: '10.88.0.77' })).address, '10.88.0.77')
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.88.0.77' }), (e: IpamError) => e instanceof IpamError && e.code === 'ERR_NETNS_KIT_IP_IN_USE' && e.address === '10.88.0.77' && e.message.includes("'a'"))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.88.0.254' }), (e: Coded) => code('ERR_NETNS_KIT_IP_RESERVED')(e) && e.message.includes('gateway'))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.88.0.0' }), code('ERR_NETNS_KIT_IP_RESERVED'))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.88.0.255' }), code('ERR_NETNS_KIT_IP_RESERVED'))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.89.0.5' }), code('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET'))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: 'fd00::5' }), code('ERR_NETNS_KIT_IP_OUTSIDE_SUBNET'))
      await assert.rejects(ipam.allocate('web', { owner: 'b', ip: '10.88.0.300' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.allocate('nope', { owner: 'b' }), code('ERR_NETNS_KIT_NO_NETWORK'))
      // With the gateway at .254, automatic allocation starts at .1
      assert.equal((await ipam.allocate('web', { owner: 'c' })).address, '10.88.0.1')
    })

    it('is idempotent per owner and family', async () => {
      await ipam.createNetwork('web', { subnet: '10.88.0.0/24' })
      const a = await ipam.allocate('web', { owner: 'ep1' })
      assert.equal((await ipam.allocate('web', { owner: 'ep1' })).address, a.address)
      assert.equal((await ipam.allocate('web', { owner: 'ep1', ip: a.address })).address, a.address)
      await assert.rejects(ipam.allocate('web', { owner: 'ep1', ip: '10.88.0.50' }), code('ERR_NETNS_KIT_IP_IN_USE'))
      assert.equal((await ipam.allocations('web')).length, 1)
    })

    it('allocates from an ipRange inside the subnet; exhausts with a typed error; reuses released addresses', async () => {
      // 10.88.0.8/29: .8 .. .15, none of them reserved (the gateway is .1)
      await ipam.createNetwork('web', { subnet: '10.88.0.0/24', ipRange: '10.88.0.8/29' })
      const got: string[] = []
      for (let i = 0; i < 8; i++) got.push((await ipam.allocate('web', { owner: `e${i}` })).address)
      assert.deepEqual(got, ['10.88.0.8', '10.88.0.9', '10.88.0.10', '10.88.0.11', '10.88.0.12', '10.88.0.13', '10.88.0.14', '10.88.0.15'])
      await assert.rejects(ipam.allocate('web', { owner: 'x' }), code('ERR_NETNS_KIT_POOL_EXHAUSTED'))
      // a requested address outside the range but inside the subnet is allowed (Docker's --ip)
      assert.equal((await ipam.allocate('web', { owner: 'x', ip: '10.88.0.100' })).address, '10.88.0.100')
      assert.equal(await ipam.release('web', '10.88.0.11'), true)
      assert.equal(await ipam.release('web', '10.88.0.11'), false, 'idempotent')
      assert.equal((await ipam.allocate('web', { owner: 'y' })).address, '10.88.0.11')
      assert.deepEqual(await ipam.releaseOwner('web', 'e0'), ['10.88.0.8'])
      assert.deepEqual(await ipam.releaseOwner('web', 'e0'), [])
      assert.equal((await ipam.allocate('web', { owner: 'z' })).address, '10.88.0.8')
    })

    it('hands out a released address only after the others (cursor), then wraps', async () => {
      await ipam.createNetwork('small', { subnet: '10.9.0.0/29' }) // .2 .. .6 usable
      const a = await ipam.allocate('small', { owner: 'a' })
      await ipam.allocate('small', { owner: 'b' })
      await ipam.release('small', a.address)
      assert.equal((await ipam.allocate('small', { owner: 'c' })).address, '10.9.0.4')
      assert.equal((await ipam.allocate('small', { owner: 'd' })).address, '10.9.0.5')
      assert.equal((await ipam.allocate('small', { owner: 'e' })).address, '10.9.0.6')
      assert.equal((await ipam.allocate('small', { owner: 'f' })).address, '10.9.0.2', 'wrapped past broadcast, network and gateway')
      await assert.rejects(ipam.allocate('small', { owner: 'g' }), code('ERR_NETNS_KIT_POOL_EXHAUSTED'))
    })

    it('IPv6: sequential in a /64 without iterating it, dual stack, canonical text', async () => {
      await ipam.createNetwork('dual', { subnet: '10.77.0.0/24', ipv6: { subnet: 'FD00:77::/64' } })
      const net = await ipam.network('dual')
      assert.deepEqual(net.pools[1], { family: 6, subnet: 'fd00:77::/64', gateway: 'fd00:77::1' })
      const v4 = await ipam.allocate('dual', { owner: 'ep1' })
      const v6 = await ipam.allocate('dual', { owner: 'ep1', family: 6 })
      assert.equal(v4.address, '10.77.0.2')
      assert.equal(v6.address, 'fd00:77::2')
      assert.equal(v6.prefixLength, 64)
      const req = await ipam.allocate('dual', { owner: 'ep2', ip: 'fd00:77:0:0:0:0:0:ffff' })
      assert.equal(req.address, 'fd00:77::ffff')
      await assert.rejects(ipam.allocate('dual', { owner: 'ep3', ip: 'fd00:77::FFFF' }), code('ERR_NETNS_KIT_IP_IN_USE'))
      const t0 = process.hrtime.bigint()
      let last = ''
      for (let i = 0; i < 50; i++) last = (await ipam.allocate('dual', { owner: `n${i}`, family: 6 })).address
      assert.equal(last, 'fd00:77::34')
      assert.ok(process.hrtime.bigint() - t0 < 10_000_000_000n)
      assert.equal(await ipam.release('dual', 'FD00:77::2'), true, 'released by any spelling')
    })

    it('refuses overlapping subnets and duplicate names; validates input before storing', async () => {
      await ipam.createNetwork('a', { subnet: '10.88.0.0/16' })
      await assert.rejects(ipam.createNetwork('a', { subnet: '10.99.0.0/16' }), code('ERR_NETNS_KIT_NETWORK_EXISTS'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.88.5.0/24' }), (e: Coded) => code('ERR_NETNS_KIT_SUBNET_OVERLAP')(e) && e.message.includes("'a'"))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.88.0.1/16' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.90.0.0/31' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.90.0.0/24', gateway: '10.91.0.1' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.90.0.0/24', gateway: '10.90.0.255' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.90.0.0/24', ipRange: '10.91.0.0/25' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('b', { subnet: '10.90.0.0/24', ipv6: { subnet: '10.92.0.0/24' } }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.createNetwork('../x', { subnet: '10.90.0.0/24' }), code('ERR_INVALID_ARG_VALUE'))
      await assert.rejects(ipam.allocate('a', { owner: '' }), code('ERR_INVALID_ARG_VALUE'))
      assert.deepEqual((await ipam.networks()).map((n) => n.name), ['a'])
    })

    it('deletes a network: refused while in use unless forced; a new one with the same name starts empty', async () => {
      const old = await ipam.createNetwork('web', { subnet: '10.88.0.0/24' })
      await ipam.allocate('web', { owner: 'ep1' })
      await assert.rejects(ipam.deleteNetwork('web'), code('ERR_NETNS_KIT_NETWORK_IN_USE'))
      assert.equal(await ipam.deleteNetwork('web', { force: true }), true)
      assert.equal(await ipam.deleteNetwork('web'), false)
      await assert.rejects(ipam.network('web'), code('ERR_NETNS_KIT_NO_NETWORK'))
      const again = await ipam.createNetwork('web', { subnet: '10.88.0.0/24' })
      assert.notEqual(again.id, old.id)
      assert.deepEqual(await ipam.allocations('web'), [])
      assert.equal((await ipam.allocate('web', { owner: 'ep9' })).address, '10.88.0.2')
    })

    it('never hands out one address twice under 100 concurrent allocations', async () => {
      await ipam.createNetwork('busy', { subnet: '10.66.0.0/24' })
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => ipam.allocate('busy', { owner: `c${i}` })))
      assert.equal(new Set(got.map((a) => a.address)).size, 100)
      assert.equal((await ipam.allocations('busy')).length, 100)
    })
  })
}

describe('FileStore', () => {
  let root: string
  beforeEach(() => { root = tmpRoot() })
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

  it('keeps records across instances as 0600 JSON files in a 0700 directory, leaving no temp files', async () => {
    const ipam = new Ipam({ store: new FileStore({ root }) })
    await ipam.createNetwork('web', { subnet: '10.88.0.0/24' })
    await ipam.allocate('web', { owner: 'ep1' })
    const again = new Ipam({ store: new FileStore({ root }) })
    assert.deepEqual((await again.allocations('web')).map((a) => a.address), ['10.88.0.2'])
    assert.equal((await again.allocate('web', { owner: 'ep2' })).address, '10.88.0.3')
    const dir = path.join(root, 'ipam')
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
    assert.deepEqual(fs.readdirSync(dir).sort(), ['.lock', 'alloc.web.json', 'networks.json'])
    for (const f of ['alloc.web.json', 'networks.json']) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600)
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'alloc.web.json'), 'utf8'))
    assert.equal(typeof rec.revision, 'string')
    assert.ok(rec.value.pools['10.88.0.0/24'].addresses['10.88.0.3'])
  })

  it('compare-and-swap: only the expected revision wins; null means absent; undefined deletes', async () => {
    const s = new FileStore({ root })
    assert.equal(await s.compareAndSwap('k', 'nope', { a: 1 }), false)
    const r1 = await s.compareAndSwap('k', null, { a: 1 })
    assert.equal(typeof r1, 'string')
    assert.equal(await s.compareAndSwap('k', null, { a: 2 }), false)
    const r2 = await s.compareAndSwap('k', r1 as string, { a: 2 })
    assert.notEqual(r2, r1)
    assert.deepEqual((await s.get('k'))!.value, { a: 2 })
    assert.equal(await s.compareAndSwap('k', r1 as string, undefined), false)
    assert.equal(await s.compareAndSwap('k', r2 as string, undefined), null)
    assert.equal(await s.get('k'), undefined)
    assert.equal(await s.compareAndSwap('k', null, { a: 3 }) !== r1, true, 'a record made again never reuses a revision')
    assert.deepEqual((await s.list()).map((e) => e.key), ['k'])
    await assert.rejects(s.get('../etc/passwd'), code('ERR_INVALID_ARG_VALUE'))
  })

  it('waits for the lock another open file holds, and times out with a typed error', async () => {
    const s = new FileStore({ root, lockTimeout: 300 })
    await s.compareAndSwap('k', null, 1) // creates the directory and the lock file
    const fd = fs.openSync(path.join(root, 'ipam', '.lock'), 'r')
    try {
      assert.equal(native().tryLock(fd), true)
      const t0 = Date.now()
      await assert.rejects(s.compareAndSwap('k', null, 2), code('ERR_NETNS_KIT_LOCK_TIMEOUT'))
      assert.ok(Date.now() - t0 >= 290)
      // released while a writer waits: the writer goes through
      const pending = new FileStore({ root, lockTimeout: 5000 }).transact('k', (cur) => ({ result: cur!.value, set: 3 }))
      setTimeout(() => native().unlock(fd), 100)
      assert.equal(await pending, 1)
      assert.equal((await s.get('k'))!.value, 3)
    } finally {
      fs.closeSync(fd)
    }
  })

  it('reports a corrupt record and sweeps temp files of dead processes', async () => {
    const s = new FileStore({ root })
    await s.compareAndSwap('k', null, 1)
    fs.writeFileSync(path.join(root, 'ipam', 'bad.json'), '{ nope')
    await assert.rejects(s.get('bad'), code('ERR_NETNS_KIT_STORE_CORRUPT'))
    const stale = path.join(root, 'ipam', '.k.json.999999999.0123abcd.tmp')
    fs.writeFileSync(stale, 'x')
    const fresh = new FileStore({ root })
    await fresh.compareAndSwap('k2', null, 1)
    assert.ok(!fs.existsSync(stale))
  })

  it('refuses a relative root', () => {
    assert.throws(() => new FileStore({ root: 'run/x' }), code('ERR_INVALID_ARG_VALUE'))
  })
})
