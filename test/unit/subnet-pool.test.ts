import { strict as assert } from 'node:assert'
import { DEFAULT_ADDRESS_POOLS, candidateSubnets, chooseSubnet } from '../../lib'

describe('subnet pool (pure choice)', () => {
  it("lists Docker's candidates: 172.17-31.0.0/16, then 192.168.x.0/24", () => {
    const all = [...candidateSubnets()]
    assert.equal(all.length, 15 + 256)
    assert.deepEqual(all.slice(0, 3), ['172.17.0.0/16', '172.18.0.0/16', '172.19.0.0/16'])
    assert.equal(all[14], '172.31.0.0/16')
    assert.deepEqual(all.slice(15, 17), ['192.168.0.0/24', '192.168.1.0/24'])
    assert.equal(all.at(-1), '192.168.255.0/24')
    assert.equal(DEFAULT_ADDRESS_POOLS.length, 16)
  })

  it('takes the first candidate that overlaps nothing in use', () => {
    assert.equal(chooseSubnet([]), '172.17.0.0/16')
    assert.equal(chooseSubnet(['172.17.0.0/16']), '172.18.0.0/16')
    assert.equal(chooseSubnet(['172.17.0.1/16', '172.18.3.0/24']), '172.19.0.0/16', 'an address with its prefix; a route inside a candidate')
    assert.equal(chooseSubnet(['0.0.0.0/0', '172.17.0.0/16']), '172.18.0.0/16', 'default routes overlap everything and are ignored')
    assert.equal(chooseSubnet(['172.16.0.0/12']), '192.168.0.0/24', 'a covering route skips every /16')
    assert.equal(chooseSubnet(['172.16.0.0/12', '192.168.0.0/23', '192.168.2.7/32']), '192.168.3.0/24')
    assert.equal(chooseSubnet(['fd00::/8']), '172.17.0.0/16', 'IPv6 prefixes do not collide with IPv4 candidates')
    assert.equal(chooseSubnet(['172.16.0.0/12', '192.168.0.0/16']), undefined)
  })

  it('takes custom pools, validated', () => {
    assert.equal(chooseSubnet(['10.10.0.0/24'], [{ base: '10.10.0.0/16', size: 24 }]), '10.10.1.0/24')
    assert.throws(() => chooseSubnet([], [{ base: '10.10.0.0/16', size: 8 }]), { code: 'ERR_OUT_OF_RANGE' })
    assert.throws(() => chooseSubnet([], [{ base: '10.10.0.1/16', size: 24 }]), { code: 'ERR_INVALID_ARG_VALUE' })
    assert.throws(() => chooseSubnet(['nope']), { code: 'ERR_INVALID_ARG_VALUE' })
  })
})
