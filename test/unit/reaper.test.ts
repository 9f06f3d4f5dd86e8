// The shared veth delete of concurrent teardowns (lib/network/reaper.ts), on the recording fake of
// the addon: when the group delete is refused and a member's own delete is refused too, that
// member's teardown rejects (before: it resolved, its veth left in place and the disconnect
// reported done).
import { strict as assert } from 'node:assert'
import { Namespace, NetlinkError } from '../../lib'
import { deleteLinkShared, enterTeardown } from '../../lib/network/reaper'
import { installFake, nativeError, uninstallFake, type FakeBinding } from '../fake-binding'

describe('reaper: the shared veth delete of concurrent teardowns', () => {
  let fake: FakeBinding
  let host: Namespace
  beforeEach(async () => {
    fake = installFake()
    host = await Namespace.create('nk-fake-reaper')
  })
  afterEach(() => uninstallFake())

  it('two teardowns under way share ONE group delete', async () => {
    const leave = [enterTeardown(host), enterTeardown(host)]
    await Promise.all([deleteLinkShared(host, 11, 'veth-a'), deleteLinkShared(host, 12, 'veth-b')])
    leave.forEach((l) => l())
    const deletes = fake.calls.filter((c) => c.entry === 'linkUnregister')
    assert.equal(deletes.length, 1)
    assert.deepEqual((deletes[0]!.args[1] as { indexes: number[] }).indexes, [11, 12])
    assert.ok((deletes[0]!.args[1] as { group?: number }).group! >= 2 ** 31, 'by a link group of its own')
  })

  it('a refused group delete, then a refused delete of its own: that teardown rejects with the refusal', async () => {
    fake.fail('linkUnregister', nativeError(1, 'RTM_DELLINK')) // EPERM, every time
    const leave = [enterTeardown(host), enterTeardown(host)]
    const rs = await Promise.allSettled([deleteLinkShared(host, 11, 'veth-a'), deleteLinkShared(host, 12, 'veth-b')])
    leave.forEach((l) => l())
    for (const r of rs) {
      assert.equal(r.status, 'rejected', 'not a success with the link left')
      assert.ok((r as PromiseRejectedResult).reason instanceof NetlinkError)
      assert.equal(((r as PromiseRejectedResult).reason as NetlinkError).code, 'EPERM')
    }
    // The group delete, then one each.
    assert.equal(fake.calls.filter((c) => c.entry === 'linkUnregister').length, 3)
  })

  it('a refused group delete whose members then go one by one: every teardown resolves', async () => {
    let n = 0
    fake.answer('linkUnregister', () => {
      if (n++ === 0) throw nativeError(1, 'RTM_DELLINK')
      return { notified: true, missing: false }
    })
    const leave = [enterTeardown(host), enterTeardown(host)]
    await Promise.all([deleteLinkShared(host, 11, 'veth-a'), deleteLinkShared(host, 12, 'veth-b')])
    leave.forEach((l) => l())
    assert.equal(n, 3)
  })
})
