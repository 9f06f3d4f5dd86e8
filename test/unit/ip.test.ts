import { strict as assert } from 'node:assert'
import { canonicalIp, formatPrefix, overlaps, parseIp, parsePrefix, within } from '../../lib/ipam/ip'

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
    assert.throws(() => parsePrefix('172.18.0.5/16'), (e: Error & { code: string }) => e.code === 'ERR_INVALID_ARG_VALUE' && e.message.includes('172.18.0.0/16'))
    assert.equal(formatPrefix(parsePrefix('172.18.0.5/16', 'x', false)), '172.18.0.0/16')
    for (const bad of ['172.18.0.0', '172.18.0.0/33', 'fd00::/129', '172.18.0.0/-1', '/8']) assert.throws(() => parsePrefix(bad), { code: 'ERR_INVALID_ARG_VALUE' }, bad)
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
