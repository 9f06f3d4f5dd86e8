// Link-group input checks, without privileges: refused with Node's codes before anything is sent.
import { strict as assert } from 'node:assert'
import { Namespace, deleteLinkGroup, setLinkGroup } from '../../lib'
import { Link } from '../../lib/link'

describe('link group input checks', () => {
  let ns: Namespace
  before(async () => {
    ns = await Namespace.current()
  })
  after(async () => {
    await ns?.close()
  })

  it('deleteLinkGroup refuses group 0 (every link not in another group) before sending anything', async () => {
    await assert.rejects(deleteLinkGroup(ns, 0), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(deleteLinkGroup(ns, 2 ** 32), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(deleteLinkGroup(ns, 1.5), { code: 'ERR_INVALID_ARG_TYPE' })
    await assert.rejects(deleteLinkGroup(ns, 7, { ignoreMissing: 'yes' as never }), { code: 'ERR_INVALID_ARG_TYPE' })
  })

  it('setLinkGroup refuses a group outside 0..2^32-1', async () => {
    const lo = new Link(ns, 'lo', 1)
    await assert.rejects(setLinkGroup(lo, -1), { code: 'ERR_OUT_OF_RANGE' })
    await assert.rejects(setLinkGroup(lo, 2 ** 32), { code: 'ERR_OUT_OF_RANGE' })
  })
})
