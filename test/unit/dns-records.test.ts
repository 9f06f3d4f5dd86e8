import { strict as assert } from 'node:assert'
import { DnsRecords } from '../../lib'
import { ptrAddress } from '../../lib/dns'

describe('DnsRecords', () => {
  it('answers names and aliases without regard to case or a trailing dot, per family', () => {
    const r = new DnsRecords()
    r.set('ep1', { names: ['web', 'Db-Alias'], addresses: ['10.1.0.2', 'FD00::2'] })
    r.set('ep2', { names: ['cache'], addresses: ['10.1.0.3'] })
    assert.deepEqual(r.lookup('WEB.', 4), ['10.1.0.2'])
    assert.deepEqual(r.lookup('db-alias', 6), ['fd00::2'])
    assert.deepEqual(r.lookup('cache', 6), [], 'ours, but no IPv6 address')
    assert.equal(r.lookup('nope', 4), undefined, 'not ours')
    assert.equal(r.lookup('bad name', 4), undefined)
    assert.deepEqual(r.reverse('10.1.0.2'), ['web', 'db-alias'])
    assert.deepEqual(r.reverse('fd00:0::2'), ['web', 'db-alias'])
    assert.equal(r.size, 2)
  })

  it('merges a name shared by endpoints, replaces an entry, forgets one', () => {
    const r = new DnsRecords()
    r.set('a', { names: ['svc', 'a'], addresses: ['10.1.0.2'] })
    r.set('b', { names: ['svc', 'b'], addresses: ['10.1.0.3'] })
    assert.deepEqual(r.lookup('svc', 4), ['10.1.0.2', '10.1.0.3'])
    r.set('a', { names: ['a2'], addresses: ['10.1.0.4'] })
    assert.deepEqual(r.lookup('svc', 4), ['10.1.0.3'])
    assert.equal(r.lookup('a', 4), undefined)
    assert.equal(r.delete('b'), true)
    assert.equal(r.delete('b'), false)
    assert.equal(r.has('svc'), false)
    assert.deepEqual(r.ids(), ['a'])
  })

  it('validates names and addresses', () => {
    const r = new DnsRecords()
    assert.throws(() => r.set('x', { names: ['a b'], addresses: [] }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => r.set('x', { names: ['a'.repeat(64)], addresses: [] }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => r.set('x', { names: ['web'], addresses: ['10.0.0.300'] }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => r.set('', { names: ['web'], addresses: [] }), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.equal(r.size, 0)
  })

  it('reads PTR question names', () => {
    assert.equal(ptrAddress('2.0.1.10.in-addr.arpa'), '10.1.0.2')
    assert.equal(ptrAddress('2.0.1.10.IN-ADDR.ARPA.'), '10.1.0.2')
    assert.equal(ptrAddress('2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'), 'fd00::2')
    assert.equal(ptrAddress('1.10.in-addr.arpa'), undefined)
    assert.equal(ptrAddress('300.0.1.10.in-addr.arpa'), undefined)
    assert.equal(ptrAddress('web'), undefined)
  })
})
