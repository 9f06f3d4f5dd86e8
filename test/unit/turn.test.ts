// lib/turn.ts: continuations that many settled promises would run back to back in one callback are
// resumed one per turn of the event loop, so timers run between any two (issues 12 and 18: the
// event loop's longest delay while wiring containers 8 at a time). The kernel side (trips of the
// addon) is test/integration/threads.test.ts.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SqliteStore } from '../../lib/ipam/sqlite-store'
import { turn, turnsWaiting } from '../../lib/turn'

/** Holds the thread for `ms` (a continuation with work in it). */
function spin(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end);
}

/** A timer that fires at every turn it can; `now()` says how many times it fired. */
function ticker(): { now(): number; stop(): void } {
  let ticks = 0
  let t: NodeJS.Timeout | undefined
  const arm = () => {
    t = setTimeout(() => {
      ticks++
      arm()
    }, 0)
  }
  arm()
  return { now: () => ticks, stop: () => clearTimeout(t) }
}

describe('turn(): one continuation per turn of the event loop', () => {
  it('resumes waiters in order, a timer running between any two', async () => {
    const log: string[] = []
    const waiters = [1, 2, 3].map(async (i) => {
      await turn()
      log.push(`w${i}`)
      setTimeout(() => log.push(`t${i}`), 0)
      spin(2) // the timer is due before the next waiter
    })
    assert.equal(turnsWaiting(), 3)
    await Promise.all(waiters)
    await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual(log, ['w1', 't1', 'w2', 't2', 'w3', 't3'])
    assert.equal(turnsWaiting(), 0)
  })

  it('resumes many cheap waiters in a few turns, not one turn each', async () => {
    let turns = 0
    let counting = true
    const count = () => {
      turns++
      if (counting) setImmediate(count)
    }
    setImmediate(count)
    await Promise.all(Array.from({ length: 500 }, () => turn()))
    counting = false
    assert.ok(turns < 50, `500 waiters took ${turns} turns`)
  })

  it('works under fake timers, and after they are removed (it keeps the real setImmediate)', async () => {
    const real = globalThis.setImmediate
    // A fake that never runs what it is given, as fake-timer libraries do until told to tick.
    globalThis.setImmediate = (() => ({}) as NodeJS.Immediate) as unknown as typeof setImmediate
    try {
      await Promise.all([turn(), turn()])
    } finally {
      globalThis.setImmediate = real
    }
    await turn()
  })

  it("SqliteStore: concurrent calls' continuations do not share a turn", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-turn-'))
    const store = new SqliteStore({ path: path.join(dir, 'state.db') })
    try {
      await store.networks() // opened (schema made) before the measured calls
      const tick = ticker()
      const seen: number[] = []
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          await store.networks()
          seen.push(tick.now())
          spin(2)
        }),
      )
      tick.stop()
      assert.equal(new Set(seen).size, seen.length, `a timer ran between any two continuations (ticks seen: ${seen.join(' ')})`)
    } finally {
      await store.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
