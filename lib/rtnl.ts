// Runs rtnetlink operations through the addon and turns refusals into typed errors.
import { native, type NativeAddr, type NativeLink, type NativeOp, type NativeResult, type NativeRoute, type NativeOpError } from './native/binding'
import { NetlinkError, PrivilegeError } from './errors'
import { handleOf } from './internal'
import { missingCapabilities } from './privileges'
import type { Namespace } from './namespace'

export interface Op extends Omit<NativeOp, 'ns'> {
  ns: Namespace
  /** What the operation concerns, for error messages ('veth0', '10.0.0.1/24 on eth0'). */
  object?: string
}

function isOpError(r: NativeResult): r is NativeOpError {
  return r !== null && !Array.isArray(r) && typeof r === 'object' && 'errno' in r
}

const EPERM = -1
const EACCES = -13

/** Converts a kernel refusal or a native failure into NetlinkError (or PrivilegeError). */
export function toError(e: { errno?: number; syscall?: string; extack?: string; strerror?: string; detail?: string; message?: string }, object?: string, action?: string): Error {
  if (typeof e.errno !== 'number') return e instanceof Error ? e : new Error(String(e.message ?? e))
  if (e.errno === EPERM || e.errno === EACCES) {
    const needed = e.syscall === 'setns' || e.syscall === 'unshare' || e.syscall === 'mount' ? ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN'] : ['CAP_NET_ADMIN']
    const missing = missingCapabilities(needed)
    if (missing.length) return new PrivilegeError(missing, action ?? `${e.syscall ?? 'change'} ${object ?? 'network objects'}`)
  }
  const obj = [object, e.detail].filter((s) => s && s.length).join(' ') || undefined
  return new NetlinkError({ errno: e.errno, syscall: e.syscall ?? 'netlink', object: obj, extack: e.extack, strerror: e.strerror })
}

/**
 * Runs the operations in one trip to the addon's namespace threads (consecutive operations
 * on one namespace are pipelined on its socket). Throws the first refusal; `results`
 * on the error tells which operations took effect, for rollbacks.
 */
export async function run(ops: Op[]): Promise<NativeResult[]> {
  let results: NativeResult[]
  const nativeOps = ops.map(({ ns, object: _object, ...rest }) => ({ ...rest, ns: handleOf(ns) } as NativeOp))
  try {
    results = await native().rtnl(nativeOps)
  } catch (e) {
    throw toError(e as Record<string, never>, ops[0]?.object)
  }
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!
    if (isOpError(r)) {
      const err = toError(r, ops[i]!.object) as Error & { results?: NativeResult[]; opIndex?: number }
      err.results = results
      err.opIndex = i
      throw err
    }
  }
  return results
}

export async function runOne(op: Op): Promise<NativeResult> {
  return (await run([op]))[0]!
}

export async function getLink(ns: Namespace, nameOrIndex: string | number): Promise<NativeLink> {
  const r = await runOne({ ns, op: 'link.get', ...(typeof nameOrIndex === 'number' ? { index: nameOrIndex } : { name: nameOrIndex }), object: String(nameOrIndex) })
  return r as NativeLink
}

export async function listLinks(ns: Namespace): Promise<NativeLink[]> {
  return (await runOne({ ns, op: 'link.list' })) as NativeLink[]
}

export async function listAddrs(ns: Namespace, index = 0, family?: 4 | 6): Promise<NativeAddr[]> {
  return (await runOne({ ns, op: 'addr.list', index, family })) as NativeAddr[]
}

export async function listRoutes(ns: Namespace, family?: 4 | 6): Promise<NativeRoute[]> {
  return (await runOne({ ns, op: 'route.list', family })) as NativeRoute[]
}
