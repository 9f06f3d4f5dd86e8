// Continuations spread over turns of the event loop. The addon settles its promises from a
// thread-safe function, and Node drains every settled job in one callback: with 8 operations in
// flight, the continuations of all the trips that finished meanwhile (each up to the next trip:
// SQLite transactions, nftables encoding, the container's files) ran back to back, holding the
// event loop for 20-40 ms at a time while 8 containers were wired (bench: `event loop max`).
// trip() (lib/kernel/trace.ts) and the SQLite store's calls wait for turn() first: waiters are
// resumed in the order they came, back to back while a turn has used less than TURN_BUDGET_MS,
// then the rest in the next turn, so timers and I/O run in between. Alone (nothing else waiting)
// the wait is the rest of the current callback: the next check phase runs it at once.

/**
 * Node's own setImmediate, taken when this module loads: fake timers installed later (sinon,
 * jest, node:test's mock.timers) must not hold the library's calls, nor drop a pump when removed.
 */
const realSetImmediate = globalThis.setImmediate
const realQueueMicrotask = globalThis.queueMicrotask
const realNextTick = process.nextTick.bind(process)
const now = performance.now.bind(performance)

/** How long one turn keeps resuming waiters (their work until their next await included, roughly). */
const TURN_BUDGET_MS = 1

const waiting: (() => void)[] = []
let scheduled = false
let started = 0

function pump(): void {
  started = now()
  resumeNext()
}

/**
 * Resumes the first waiter, and once its work up to its next real wait is done, the next one
 * while the turn's budget lasts, else the rest in the next turn. "Done": a nextTick queued from a
 * microtask runs only after Node has drained the whole microtask queue, the waiter's chain of
 * awaits included.
 */
function resumeNext(): void {
  const next = waiting.shift()
  if (!next) {
    scheduled = false
    return
  }
  next()
  if (waiting.length === 0) {
    scheduled = false
    return
  }
  realQueueMicrotask(() => realNextTick(afterWaiter))
}

function afterWaiter(): void {
  // Scheduled from the check phase, the pump runs in the next turn of the loop.
  if (now() - started < TURN_BUDGET_MS) resumeNext()
  else realSetImmediate(pump)
}

/**
 * Resolves in a later turn of the event loop (first come, first resumed; several per turn while
 * the turn has used less than 1 ms), so work that many settled promises would run back to back is
 * spread over turns. Never rejects.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve)
    if (!scheduled) {
      scheduled = true
      realSetImmediate(pump)
    }
  })
}

/** Waiters not yet resumed (for tests and diagnostics). */
export function turnsWaiting(): number {
  return waiting.length
}
