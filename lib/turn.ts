// One continuation per turn of the event loop. The addon settles its promises from a thread-safe
// function, and Node drains every settled job in one callback: with 8 operations in flight, the
// continuations of all the trips that finished meanwhile (each up to the next trip: SQLite
// transactions, nftables encoding, the container's files) ran back to back, holding the event loop
// for 20-40 ms at a time while 8 containers were wired (bench: `event loop max`). trip()
// (lib/kernel/trace.ts) and the SQLite store's calls wait for turn() first: each waiter is resumed
// from its own setImmediate, in the order they came, so timers and I/O run between any two of
// them. Alone (nothing else waiting) the wait is the rest of the current callback: the next check
// phase runs it at once.

const waiting: (() => void)[] = []
let scheduled = false

function pump(): void {
  const next = waiting.shift()
  // Scheduled from the check phase, the next one runs in the next turn of the loop.
  if (waiting.length > 0) setImmediate(pump)
  else scheduled = false
  next?.()
}

/**
 * Resolves in a later turn of the event loop: at most one waiter per turn (first come, first
 * resumed), so work that many settled promises would run back to back is spread over turns.
 * Never rejects.
 */
export function turn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve)
    if (!scheduled) {
      scheduled = true
      setImmediate(pump)
    }
  })
}

/** Waiters not yet resumed (for tests and diagnostics). */
export function turnsWaiting(): number {
  return waiting.length
}
