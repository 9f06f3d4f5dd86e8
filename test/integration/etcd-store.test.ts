// EtcdStore against a real etcd (started here on 127.0.0.1 with its data in a temp folder).
// Witness: etcdctl reading the keys back.
import { strict as assert } from 'node:assert'
import { Etcd3 } from 'etcd3'
import { EtcdStore, Ipam } from '../../lib'
import { startEtcd, type LocalEtcd } from '../etcd'
import { sh } from '../helpers'

type Coded = Error & { code: string }

describe('EtcdStore (a real etcd on 127.0.0.1)', function () {
  this.timeout(60000)
  let etcd: LocalEtcd
  const stores: EtcdStore[] = []
  const store = (prefix = 'nk-test/ipam/') => {
    const s = new EtcdStore({ etcd: etcd.endpoint, prefix })
    stores.push(s)
    return s
  }
  before(async () => { etcd = await startEtcd() })
  after(async () => { await etcd?.stop() })
  afterEach(() => { for (const s of stores.splice(0)) s.close() })

  it('compare-and-swap on mod_revision: only the expected revision wins; null means absent; undefined deletes', async () => {
    const s = store('cas/')
    assert.equal(await s.compareAndSwap('k', '12345', { a: 1 }), false)
    const r1 = await s.compareAndSwap('k', null, { a: 1 })
    assert.match(String(r1), /^[0-9]+$/)
    assert.equal((await s.get('k'))!.revision, r1, 'the revision is the key\'s mod_revision')
    assert.equal(await s.compareAndSwap('k', null, { a: 2 }), false)
    const r2 = await s.compareAndSwap('k', r1 as string, { a: 2 })
    assert.ok(Number(r2) > Number(r1))
    assert.deepEqual((await s.get('k'))!.value, { a: 2 })
    // Witness: etcdctl sees the JSON under the prefix.
    const { stdout } = await sh('etcdctl', ['--endpoints', etcd.endpoint, 'get', 'cas/k', '--print-value-only'])
    assert.deepEqual(JSON.parse(stdout), { a: 2 })
    assert.equal(await s.compareAndSwap('k', r1 as string, undefined), false)
    assert.equal(await s.compareAndSwap('k', r2 as string, undefined), null)
    assert.equal(await s.get('k'), undefined)
    const r3 = await s.compareAndSwap('k', null, { a: 3 })
    assert.ok(r3 !== r1 && r3 !== r2, 'a record made again never reuses a revision')
    await s.compareAndSwap('k2', null, 'x')
    assert.deepEqual((await s.list()).map((e) => e.key), ['k', 'k2'])
    assert.deepEqual((await s.list('k2')).map((e) => e.value), ['x'])
    assert.deepEqual((await store('other/').list()).length, 0, 'another prefix sees nothing')
    await assert.rejects(s.get('../etc'), (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE')
  })

  it('three "hosts" (three clients) allocating at once never get one address twice', async () => {
    const hosts = [store('dup/'), store('dup/'), store('dup/')].map((s) => new Ipam({ store: s }))
    await hosts[0]!.createNetwork('ovl', { subnet: '10.91.0.0/24' })
    const got = await Promise.all(hosts.flatMap((ipam, h) => Array.from({ length: 20 }, (_, i) => ipam.allocate('ovl', { owner: `h${h}-c${i}` }))))
    assert.equal(got.length, 60)
    assert.equal(new Set(got.map((a) => a.address)).size, 60, 'no duplicate address')
    assert.equal((await hosts[2]!.allocations('ovl')).length, 60)
  })

  it('takes an existing etcd3 client and leaves it open', async () => {
    const client = new Etcd3({ hosts: etcd.endpoint })
    try {
      const s = new EtcdStore({ etcd: client, prefix: 'own/' })
      assert.equal(typeof await s.compareAndSwap('x', null, 1), 'string')
      s.close()
      assert.equal((await client.get('own/x').string()), '1')
    } finally {
      client.close()
    }
  })

  it('fails fast with ERR_NETNS_KIT_STORE_UNAVAILABLE when etcd is unreachable', async () => {
    // A port nothing listens on (etcd's own peer port range is elsewhere): the client cannot connect.
    const dead = new EtcdStore({ etcd: 'http://127.0.0.1:9', timeoutMs: 1000 })
    stores.push(dead)
    const t0 = Date.now()
    await assert.rejects(dead.get('k'), (e: Coded) => e.code === 'ERR_NETNS_KIT_STORE_UNAVAILABLE' && /unreachable/.test(e.message) && e.message.includes('127.0.0.1:9'))
    await assert.rejects(new Ipam({ store: dead }).allocate('x', { owner: 'o' }), (e: Coded) => e.code === 'ERR_NETNS_KIT_STORE_UNAVAILABLE')
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`)
  })

  it('refuses bad options with typed errors', () => {
    assert.throws(() => new EtcdStore({ etcd: 'localhost:2379' }), (e: Coded) => e.code === 'ERR_INVALID_ARG_TYPE')
    assert.throws(() => new EtcdStore({ etcd: [] }), (e: Coded) => e.code === 'ERR_INVALID_ARG_TYPE')
    assert.throws(() => new EtcdStore({ etcd: 'http://127.0.0.1:2379', timeoutMs: 0 }), (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE')
    assert.throws(() => new EtcdStore({ etcd: 'http://127.0.0.1:2379', prefix: '' }), (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE')
  })
})
