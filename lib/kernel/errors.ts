// The one mapping of the addon's failures to the library's errors. Every function of lib/kernel
// passes what the addon threw or answered through toError(), so every public method rejects with
// NetlinkError (a kernel refusal), PrivilegeError (a missing capability), NetnsKitError (a
// library state, with a NetnsKitErrorCode), or TypeError / RangeError (bad input), never a bare Error.
import { NetlinkError, NetnsKitError, PrivilegeError, type InvalidArgCode } from '../errors'
import { missingCapabilities } from './privileges'

/** A failure as the addon reports it: a rejected promise's error or a refused operation's result. */
export interface NativeFailure {
  errno?: number
  syscall?: string
  extack?: string
  strerror?: string
  /** What the addon adds about the object (a path, a name). */
  detail?: string
  message?: string
}

export interface FailureContext {
  /** What the call concerned, for the message ('veth0', '10.0.0.1/24 on eth0'). */
  object?: string
  /** What was being done, for a PrivilegeError ('create the namespace nk-1'). */
  action?: string
}

const EPERM = 1
const EACCES = 13
const EBADF = 9

/** System calls that need CAP_SYS_ADMIN as well as CAP_NET_ADMIN. */
const SYS_ADMIN_CALLS = new Set(['setns', 'unshare', 'mount'])

/** The positive errno of a native failure, or undefined when it has none. */
export function errnoOf(e: unknown): number | undefined {
  const n = (e as NativeFailure | null)?.errno
  return typeof n === 'number' ? Math.abs(n) : undefined
}

/** Converts whatever the addon threw or answered into one of the library's errors. */
export function toError(e: unknown, ctx: FailureContext = {}): Error {
  if (e instanceof NetlinkError || e instanceof NetnsKitError) return e
  if (e instanceof TypeError || e instanceof RangeError) {
    // The addon's own input checks: the same shape as the TypeScript ones.
    const coded = e as (TypeError | RangeError) & { code?: string }
    const code: InvalidArgCode = e instanceof RangeError ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_VALUE'
    coded.code ??= code
    return e
  }
  const f = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as NativeFailure
  const errno = errnoOf(f)
  if (errno === undefined) {
    return new NetnsKitError('ERR_NETNS_KIT_INTERNAL', `netns-kit: the addon failed${ctx.object ? ` (${ctx.object})` : ''}: ${f.message ?? String(e)}`, {
      cause: e,
    })
  }
  if (errno === EPERM || errno === EACCES) {
    const needed = SYS_ADMIN_CALLS.has(f.syscall ?? '') ? ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] : ['CAP_NET_ADMIN']
    const missing = missingCapabilities(needed)
    if (missing.length) return new PrivilegeError(missing, ctx.action ?? `${f.syscall ?? 'change'} ${ctx.object ?? 'network objects'}`)
  }
  if (errno === EBADF && f.syscall === 'netns') {
    // The handle was closed while the call was on its way (the object layer refuses it earlier).
    return new NetnsKitError('ERR_NETNS_KIT_CLOSED', `${ctx.object ?? 'the namespace'}: the namespace handle is closed`, { cause: e })
  }
  const object = [ctx.object, f.detail].filter((s) => s && s.length).join(' ') || undefined
  return new NetlinkError({ errno, syscall: f.syscall ?? 'netlink', object, extack: f.extack, strerror: f.strerror })
}
