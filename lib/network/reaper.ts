// Veths deleted in batches (issue 18). Each RTM_DELLINK that unregisters devices is acknowledged
// only after an RCU barrier (rcu_barrier in netdev_run_todo, ~20-25 ms here whatever the load),
// paid once per message, not per device. Two things keep teardowns from paying it:
// - A teardown does not wait for the acknowledgement: the kernel unlists the links (their names,
//   indexes, addresses, routes and bridge ports are gone) and sends RTM_DELLINK notifications
//   before that barrier, and the delete resolves at those (unregisterLinks, on a socket of its
//   own, so the namespace's other trips do not queue behind the barrier either).
// - Concurrent teardowns in one host namespace share one delete, as a group commit: each
//   teardown registers when it starts (enterTeardown); one that reaches its veth while others
//   are still under way moves it into the link group of the batch (`ip link set DEV group N`:
//   one cheap RTM_NEWLINK, no grace period) and waits; once every teardown under way has joined
//   the batch or finished (or after MAX_WAIT_MS), the whole group goes in ONE RTM_DELLINK
//   (`ip link delete group N`). A teardown alone deletes its veth at once, by index. Links that
//   come while a batch is being deleted form the next one.
//
// Crash safety: a link moved into a group and not yet deleted still carries its endpoint's alias
// and name, and the endpoint's record is still `disconnecting`: gc deletes it as before. A delete
// the kernel has begun finishes whether this process lives or not. The group number is drawn at
// random per batch from [2^31, 2^32): only the links of this batch are in it (netns-kit never uses
// link groups otherwise).
import { randomInt } from 'node:crypto'
import { NetlinkError } from '../errors'
import { handleOf } from '../kernel/handles'
import { runOne, unregisterLinks } from '../kernel/rtnl'
import type { Namespace } from '../namespace'

/** How long a batch waits at most for teardowns still under way before it is deleted. */
const MAX_WAIT_MS = 100

interface Member {
  ns: Namespace
  index: number
  name: string
  moved: Promise<boolean>
}

interface Batch {
  group: number
  members: Member[]
  done: Promise<void>
  resolve: () => void
  timer: NodeJS.Timeout
  /** MAX_WAIT_MS passed: deleted as soon as no other delete runs, whoever is still under way. */
  expired: boolean
  /** Members whose link could not be deleted (group delete refused, then their own too), by index. */
  failed: Map<number, unknown>
}

interface Host {
  ns: Namespace
  /** Teardowns under way in this namespace (enterTeardown without its leave yet). */
  active: number
  batch?: Batch
  deleting: boolean
}

const hosts = new Map<string, Host>()

const isGone = (e: unknown) => e instanceof NetlinkError && (e.code === 'ENODEV' || e.code === 'ENOENT')

function keyOf(ns: Namespace): string {
  const h = handleOf(ns)
  return `${h.dev}:${h.ino}`
}

function hostOf(ns: Namespace): [string, Host] {
  const key = keyOf(ns)
  let h = hosts.get(key)
  if (!h) hosts.set(key, (h = { ns, active: 0, deleting: false }))
  return [key, h]
}

function forget(key: string, h: Host): void {
  if (h.active <= 0 && !h.batch && !h.deleting) hosts.delete(key)
}

async function deleteOne(ns: Namespace, index: number, name: string): Promise<void> {
  await unregisterLinks(ns, { index }, [index], name)
}

/** Deletes the batch once every teardown under way waits in it, or it waited MAX_WAIT_MS, and no delete runs. */
function maybeDelete(key: string, h: Host): void {
  const b = h.batch
  if (!b || h.deleting || (!b.expired && b.members.length < h.active)) return
  h.batch = undefined
  h.deleting = true
  clearTimeout(b.timer)
  void (async () => {
    try {
      const moved = await Promise.all(b.members.map((m) => m.moved))
      const indexes = b.members.filter((_m, i) => moved[i]).map((m) => m.index)
      if (indexes.length > 0) await unregisterLinks(h.ns, { group: b.group }, indexes)
    } catch {
      // The group delete refused: one by one (a link already gone is not an error); a member whose
      // own delete fails too hears of it (deleteLinkShared), not a success with its link left.
      for (const m of b.members)
        await deleteOne(m.ns, m.index, m.name).catch((e: unknown) => {
          b.failed.set(m.index, e)
        })
    } finally {
      h.deleting = false
      b.resolve()
      maybeDelete(key, h)
      forget(key, h)
    }
  })()
}

/**
 * Registers a teardown under way in the host namespace `ns`, whose veth delete may be shared;
 * returns its leave(), to call when it is over (whether it deleted a link or not).
 */
export function enterTeardown(ns: Namespace): () => void {
  let key: string, h: Host
  try {
    ;[key, h] = hostOf(ns)
  } catch {
    return () => {} // a closed namespace: nothing will be deleted through it
  }
  h.active++
  let left = false
  return () => {
    if (left) return
    left = true
    h.active--
    maybeDelete(key, h)
    forget(key, h)
  }
}

/**
 * Deletes the link `index` (named `name`, for messages) of `ns`, sharing the kernel's grace period
 * with the other teardowns under way in `ns` (see enterTeardown). Resolves once it is gone (or
 * was gone already).
 */
export async function deleteLinkShared(ns: Namespace, index: number, name: string): Promise<void> {
  const [key, h] = hostOf(ns)
  if (h.active <= 1 && !h.batch && !h.deleting) {
    // Alone: at once, one message, as a plain delete; those who come meanwhile gather in a batch.
    h.deleting = true
    try {
      await deleteOne(ns, index, name)
    } finally {
      h.deleting = false
      maybeDelete(key, h)
      forget(key, h)
    }
    return
  }
  let b = h.batch
  if (!b) {
    let resolve!: () => void
    const done = new Promise<void>((r) => {
      resolve = r
    })
    const nb: Batch = {
      group: randomInt(2 ** 31, 2 ** 32 - 1),
      members: [],
      done,
      resolve,
      expired: false,
      failed: new Map(),
      timer: setTimeout(() => {
        nb.expired = true
        maybeDelete(key, h)
      }, MAX_WAIT_MS),
    }
    b = nb
    b.timer.unref()
    h.batch = b
  }
  const move = runOne({ ns, op: 'link.set', index, group: b.group, object: `${name} group ${b.group}` }).then(
    () => true,
    async (e: unknown) => {
      if (isGone(e)) return false
      await deleteOne(ns, index, name) // not moved: on its own
      return false
    },
  )
  b.members.push({ ns, index, name, moved: move.catch(() => false) })
  maybeDelete(key, h)
  await move
  await b.done
  if (b.failed.has(index)) throw b.failed.get(index)
}
