// watch() input checks, without privileges: bad options are refused synchronously with Node's
// codes before any socket is opened; an aborted signal and a closed namespace too.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import { Namespace, watch } from '../../lib'

const fdCount = () => fs.readdirSync('/proc/self/fd').length

describe('watch() input checks', () => {
  let ns: Namespace
  before(async () => {
    ns = await Namespace.current()
  })
  after(async () => {
    await ns?.close()
  })

  for (const [what, opts] of [
    ['options that are not an object', 'link'],
    ['an unknown group', { groups: ['neigh'] }],
    ['an empty group list', { groups: [] }],
    ['groups that are not an array', { groups: 'link' }],
    ['a signal that is not an AbortSignal', { signal: {} }],
    ['a receive buffer of 0', { receiveBuffer: 0 }],
    ['a receive buffer above 1 GiB', { receiveBuffer: 2 ** 31 }],
    ['a fractional highWaterMark', { highWaterMark: 1.5 }],
    ['initial that is not a boolean', { initial: 'yes' }],
    ['persistent that is not a boolean', { persistent: 1 }],
    ['an empty events list', { events: [] }],
    ['an unknown event type', { events: ['add'] }],
    ['events that are not an array', { events: 'del' }],
  ] as const) {
    it(`refuses ${what}, synchronously, opening nothing`, () => {
      const fds = fdCount()
      assert.throws(
        () => watch(ns, opts as never),
        (e: Error & { code?: string }) =>
          (e instanceof TypeError || e instanceof RangeError) && /^ERR_(INVALID_ARG_VALUE|INVALID_ARG_TYPE|OUT_OF_RANGE)$/.test(e.code ?? ''),
      )
      assert.equal(fdCount(), fds)
    })
  }

  it('an already aborted signal throws an AbortError (as events.on)', () => {
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    assert.throws(
      () => ns.watch({ signal: ac.signal }),
      (e: Error & { code?: string; cause?: Error }) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.cause?.message === 'stop',
    )
  })

  it('a closed namespace is refused', async () => {
    const other = await Namespace.current()
    await other.close()
    assert.throws(() => watch(other), { code: 'ERR_NETNS_KIT_CLOSED' })
  })
})
