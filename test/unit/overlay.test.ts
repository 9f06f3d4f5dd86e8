// Overlay and etcd helpers that need neither root nor etcd: Docker's MAC scheme, the mapping of
// etcd client failures to typed errors, option checks.
import { strict as assert } from 'node:assert'
import { EtcdStore, NetnsKitError } from '../../lib'
import { storeError, withDeadline } from '../../lib/ipam/etcd-client'
import { VXLAN_OVERHEAD_IPV4 } from '../../lib/network/overlay'
import { macForIp } from '../../lib/network/mac'

type Coded = Error & { code: string }

describe('overlay helpers', () => {
  it('derives the MAC from the IPv4 address as Docker does (02:42 + the four bytes)', () => {
    assert.equal(macForIp('172.17.0.2'), '02:42:ac:11:00:02')
    assert.equal(macForIp('10.90.0.255'), '02:42:0a:5a:00:ff')
    assert.equal(VXLAN_OVERHEAD_IPV4, 50)
  })

  it('maps etcd client failures to ERR_NETNS_KIT_STORE_UNAVAILABLE / ERR_NETNS_KIT_STORE, keeping typed errors as they are', () => {
    class GRPCUnavailableError extends Error {}
    class GRPCInvalidArgumentError extends Error {}
    const u = storeError(new GRPCUnavailableError('14 UNAVAILABLE: No connection established'), 'http://127.0.0.1:9', 'get k') as Coded
    assert.equal(u.code, 'ERR_NETNS_KIT_STORE_UNAVAILABLE')
    assert.ok(u instanceof NetnsKitError)
    assert.match(u.message, /get k: etcd at http:\/\/127\.0\.0\.1:9 is unreachable/)
    const o = storeError(new GRPCInvalidArgumentError('bad key'), 'e', 'put') as Coded
    assert.equal(o.code, 'ERR_NETNS_KIT_STORE')
    const t = new TypeError('x')
    assert.equal(storeError(t, 'e', 'w'), t)
  })

  it('gives up on a call that does not answer within its deadline', async () => {
    const t0 = Date.now()
    await assert.rejects(
      withDeadline(new Promise(() => {}), 50, 'http://x:1', 'get'),
      (e: Coded) => e.code === 'ERR_NETNS_KIT_STORE_UNAVAILABLE' && /within 50 ms/.test(e.message),
    )
    assert.ok(Date.now() - t0 < 1000)
  })

  it('EtcdStore refuses bad options before connecting', () => {
    assert.throws(
      () => new EtcdStore({ etcd: 'localhost:2379' }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_TYPE',
    )
    assert.throws(
      () => new EtcdStore(undefined as never),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_TYPE',
    )
    assert.throws(
      () => new EtcdStore({ etcd: 'http://127.0.0.1:2379', timeoutMs: 1.5 }),
      (e: Coded) => e.code === 'ERR_INVALID_ARG_VALUE',
    )
  })
})
