// Who holds an intent: a process named by its pid, its start time and the boot it runs in, so a
// pid the kernel handed to another process later is never mistaken for the owner.
import * as fs from 'node:fs'
import { invalidArg } from '../errors'

/**
 * The owner of an intent (`creating`, `connecting`, `disconnecting`, `removing`): a process.
 * `start` is field 22 of /proc/PID/stat (the start time in clock ticks since boot) and `boot`
 * the kernel's boot id (/proc/sys/kernel/random/boot_id): a pid alone is reused by the kernel,
 * the triple never is.
 */
export interface Owner {
  pid: number
  /** Field 22 of /proc/PID/stat, as decimal text. */
  start: string
  /** /proc/sys/kernel/random/boot_id of the host the process runs on. */
  boot: string
}

/** What can be said about an owner from this host: it runs, it is gone, or it lives on another host (or boot). */
export type OwnerState = 'alive' | 'dead' | 'foreign'

let bootCache: string | undefined

/** This boot's id (`cat /proc/sys/kernel/random/boot_id`). */
export function bootId(): string {
  bootCache ??= fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  return bootCache
}

/**
 * Field 22 of /proc/PID/stat (starttime, clock ticks after boot), or undefined when there is no
 * such process. The command name (field 2) may hold spaces and parentheses: fields are counted
 * after its last ')'.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state): field 22 is rest[19]. A zombie has exited: it owns nothing.
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined
  return rest[19]
}

let selfCache: Owner | undefined

/** This process as an owner. */
export function currentOwner(): Owner {
  if (!selfCache || selfCache.pid !== process.pid) {
    const start = processStartTime(process.pid)
    if (start === undefined) throw new Error('cannot read /proc/self/stat')
    selfCache = { pid: process.pid, start, boot: bootId() }
  }
  return { ...selfCache }
}

/**
 * Whether `owner` still runs: a process with its pid exists AND started at the recorded time,
 * in this boot. An owner of another boot id is 'foreign' (another host sharing an etcd store,
 * whose own gc judges it): never reported dead from here.
 */
export function ownerState(owner: Owner): OwnerState {
  if (owner.boot !== bootId()) return 'foreign'
  const start = processStartTime(owner.pid)
  return start !== undefined && start === owner.start ? 'alive' : 'dead'
}

/** Same process (pid, start time and boot). */
export function sameOwner(a: Owner, b: Owner): boolean {
  return a.pid === b.pid && a.start === b.start && a.boot === b.boot
}

/** Validates an owner given by a caller. */
export function checkOwner(o: unknown, arg = 'owner'): Owner {
  const v = o as Owner
  if (!v || typeof v !== 'object') throw invalidArg(arg, o, 'must be an object { pid, start, boot }', 'ERR_INVALID_ARG_TYPE')
  if (!Number.isInteger(v.pid) || v.pid < 1 || v.pid > 0x3fffffff) throw invalidArg(`${arg}.pid`, v.pid, 'must be a process id')
  if (typeof v.start !== 'string' || !/^[0-9]{1,20}$|^unknown$/.test(v.start))
    throw invalidArg(`${arg}.start`, v.start, "must be decimal clock ticks (field 22 of /proc/PID/stat) or 'unknown'")
  if (typeof v.boot !== 'string' || v.boot.length === 0 || v.boot.length > 64) throw invalidArg(`${arg}.boot`, v.boot, 'must be a boot id')
  return { pid: v.pid, start: v.start, boot: v.boot }
}
