import { strict as assert } from 'node:assert'
import {
  canonicalIp,
  formatPrefix,
  ipFromBytes,
  ipToBytes,
  isLoopbackIp,
  maskBytes,
  overlaps,
  parseIp,
  parsePrefix,
  prefixBounds,
  within,
} from '../../lib/ipam/ip'

describe('ip helpers', () => {
  it('round-trips IPv4 and writes IPv6 in RFC 5952 form', () => {
    assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1')
    assert.equal(parseIp('255.255.255.255').value, 0xffffffffn)
    assert.equal(canonicalIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1')
    assert.equal(canonicalIp('2001:db8:0:0:0:0:2:1'), '2001:db8::2:1')
    assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not compressed')
    assert.equal(canonicalIp('::'), '::')
    assert.equal(canonicalIp('::1'), '::1')
    assert.equal(canonicalIp('fe80::'), 'fe80::')
    assert.equal(canonicalIp('::ffff:10.0.0.1'), '::ffff:a00:1')
    assert.equal(parseIp('::ffff:10.0.0.1').value, 0xffff0a000001n)
  })

  it('refuses bad addresses and zone ids', () => {
    for (const bad of ['10.0.0', '10.0.0.256', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '', 'x']) {
      assert.throws(() => parseIp(bad), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
    }
    assert.throws(() => parseIp(42), { code: 'ERR_INVALID_ARG_TYPE' })
  })

  it('parses prefixes; subnets with host bits set are refused with the network named', () => {
    assert.equal(formatPrefix(parsePrefix('172.18.0.0/16')), '172.18.0.0/16')
    assert.equal(formatPrefix(parsePrefix('FD00:1::/64')), 'fd00:1::/64')
    assert.throws(
      () => parsePrefix('172.18.0.5/16'),
      (e: Error & { code: string }) => e.code === 'ERR_INVALID_ARG_VALUE' && e.message.includes('172.18.0.0/16'),
    )
    assert.equal(formatPrefix(parsePrefix('172.18.0.5/16', 'x', false)), '172.18.0.0/16')
    for (const bad of ['172.18.0.0', '172.18.0.0/33', 'fd00::/129', '172.18.0.0/-1', '/8'])
      assert.throws(() => parsePrefix(bad), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
  })

  it('overlap and containment', () => {
    const p = (s: string) => parsePrefix(s)
    assert.ok(overlaps(p('172.16.0.0/12'), p('172.18.0.0/16')))
    assert.ok(overlaps(p('172.18.0.0/16'), p('172.18.255.0/24')))
    assert.ok(!overlaps(p('172.17.0.0/16'), p('172.18.0.0/16')))
    assert.ok(!overlaps(p('10.0.0.0/8'), p('fd00::/8')), 'families never overlap')
    assert.ok(within(p('172.18.5.0/24'), p('172.18.0.0/16')))
    assert.ok(!within(p('172.18.0.0/16'), p('172.18.5.0/24')))
  })
})

describe('ip: bytes, masks and bounds (the IP math lib/nat and lib/network use)', () => {
  it('converts addresses to and from their bytes in network order', () => {
    assert.equal(ipToBytes('10.1.2.3').toString('hex'), '0a010203')
    assert.equal(ipToBytes('fd00::1').toString('hex'), 'fd000000000000000000000000000001')
    assert.equal(ipToBytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001')
    for (const a of ['0.0.0.0', '255.255.255.255', '172.18.0.2', '::', '::1', 'fd00:1::5', '2001:db8:0:1:1:1:1:1', 'fe80::1:0:0:1']) {
      assert.equal(ipFromBytes(ipToBytes(a)), a)
    }
    assert.equal(ipFromBytes(Buffer.from('20010db8000000000000000000000001', 'hex')), '2001:db8::1')
    assert.throws(() => ipFromBytes(Buffer.alloc(5)), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => ipToBytes('10.0.0'), { code: 'ERR_INVALID_ARG_VALUE' })
  })

  it('gives the netmask bytes of a prefix length', () => {
    assert.equal(maskBytes(4, 20).toString('hex'), 'fffff000')
    assert.equal(maskBytes(4, 0).toString('hex'), '00000000')
    assert.equal(maskBytes(4, 32).toString('hex'), 'ffffffff')
    assert.equal(maskBytes(6, 65).toString('hex'), 'ffffffffffffffff8000000000000000')
  })

  it('gives the first and last address of the prefix holding an address', () => {
    assert.deepEqual(prefixBounds('172.18.5.9', 16), { first: '172.18.0.0', last: '172.18.255.255' })
    assert.deepEqual(prefixBounds('10.1.2.3', 20), { first: '10.1.0.0', last: '10.1.15.255' })
    assert.deepEqual(prefixBounds('fd00:1::5', 64), { first: 'fd00:1::', last: 'fd00:1::ffff:ffff:ffff:ffff' })
    assert.deepEqual(prefixBounds('10.1.2.3', 32), { first: '10.1.2.3', last: '10.1.2.3' })
  })

  it('knows loopback addresses', () => {
    assert.equal(isLoopbackIp('127.0.0.1'), true)
    assert.equal(isLoopbackIp('127.255.0.9'), true)
    assert.equal(isLoopbackIp('128.0.0.1'), false)
    assert.equal(isLoopbackIp('::1'), true)
    assert.equal(isLoopbackIp('::2'), false)
  })
})
