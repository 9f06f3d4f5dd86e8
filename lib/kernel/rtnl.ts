// rtnetlink through the addon: one trip per call (consecutive operations on one namespace are
// pipelined on its socket), refusals mapped to the library's errors.
import { native, type NativeAddr, type NativeLink, type NativeOp, type NativeOpError, type NativeResult, type NativeRoute } from './binding'
import { invalidArg } from '../errors'
import { toError } from './errors'
import { handleOf, type NsRef } from './handles'
import type { RtnlOp, RtnlResult } from './ops'
import { trip } from './trace'

/** One operation of a trip: `ns` is the namespace whose socket carries it. */
export type Op = RtnlOp<NsRef> & {
  ns: NsRef
  /** What the operation concerns, for error messages ('veth0', '10.0.0.1/24 on eth0'). */
  object?: string
}

/** A refusal in the middle of a trip: which operations took effect (null results), for rollbacks. */
export type TripError = Error & { results?: NativeResult[]; opIndex?: number }

function isOpError(r: NativeResult): r is NativeOpError {
  return r !== null && !Array.isArray(r) && typeof r === 'object' && 'errno' in r
}

/**
 * A name the kernel would expand as a template ('eth%d' becomes 'eth0'): refused for every link
 * created or renamed, whoever built the operation (the object API checks names first).
 */
function checkNewName(name: string | undefined, arg: string): void {
  if (name !== undefined && name.includes('%')) throw invalidArg(arg, name, "must not contain '%' (the kernel would take it as a name template)")
}

/** The operation as the addon takes it: the namespaces named inside it become their handles. */
function toNative(op: Op): NativeOp {
  if (op.op === 'link.create') {
    checkNewName(op.name, 'name')
    if (op.kind === 'veth') checkNewName(op.peer.name, 'peer.name')
  } else if (op.op === 'link.set' && op.index !== undefined) {
    checkNewName(op.name, 'name')
  }
  const { ns, object: _object, ...rest } = op
  const out = { ...rest, ns: handleOf(ns) } as Record<string, unknown>
  if ('target' in op && op.target !== undefined) out.target = handleOf(op.target)
  if (op.op === 'link.create' && op.kind === 'veth' && op.peer.target !== undefined) out.peer = { ...op.peer, target: handleOf(op.peer.target) }
  return out as NativeOp
}

function describe(op: Op): string {
  const o = op as { name?: string; index?: number; linkName?: string; key?: string }
  return `${op.op} ${op.object ?? o.name ?? o.linkName ?? o.key ?? (o.index !== undefined ? `#${o.index}` : '')}`.trim()
}

/**
 * Runs the operations in one trip to the addon's namespace threads. Throws the first refusal
 * (NetlinkError or PrivilegeError); its `results` tell which operations took effect, for rollbacks.
 */
export async function run<const T extends readonly Op[]>(ops: T): Promise<{ -readonly [K in keyof T]: RtnlResult<T[K]> }> {
  const nativeOps = ops.map(toNative) // a closed or deleted namespace is refused here
  return trip({ channel: 'rtnl', entry: 'rtnl', ns: ops[0]?.ns, ops: () => ops.map(describe) }, async () => {
    let results: NativeResult[]
    try {
      results = await native().rtnl(nativeOps)
    } catch (e) {
      throw toError(e, { object: ops[0]?.object })
    }
    results.forEach((r, i) => {
      if (!isOpError(r)) return
      const err = toError(r, { object: ops[i]?.object }) as TripError
      err.results = results
      err.opIndex = i
      throw err
    })
    return results as { -readonly [K in keyof T]: RtnlResult<T[K]> }
  })
}

export async function runOne<const O extends Op>(op: O): Promise<RtnlResult<O>> {
  const [r] = await run([op] as const)
  return r as RtnlResult<O>
}

export async function getLink(ns: NsRef, nameOrIndex: string | number): Promise<NativeLink> {
  const sel = typeof nameOrIndex === 'number' ? { index: nameOrIndex } : { name: nameOrIndex }
  return runOne({ ns, op: 'link.get', ...sel, object: String(nameOrIndex) })
}

export async function listLinks(ns: NsRef): Promise<NativeLink[]> {
  return runOne({ ns, op: 'link.list' })
}

export async function listAddrs(ns: NsRef, index = 0, family?: 4 | 6): Promise<NativeAddr[]> {
  return runOne({ ns, op: 'addr.list', index, family })
}

export async function listRoutes(ns: NsRef, family?: 4 | 6): Promise<NativeRoute[]> {
  return runOne({ ns, op: 'route.list', family })
}

/** Deletes what a failed create left behind when its first operation (the create) took effect. */
export function createdBefore(e: unknown): boolean {
  const r = (e as TripError).results
  return r !== undefined && r[0] === null
}

/**
 * `ip -n NS link delete dev DEV` / `ip -n NS link delete group N`, resolved once the kernel has
 * UNREGISTERED the links rather than once it has freed them: the kernel acknowledges a delete only
 * after an RCU barrier (~20-25 ms), but it unlists the links (names, indexes, addresses, routes,
 * bridge ports gone) and notifies RTNLGRP_LINK first. This resolves at the RTM_DELLINK notification
 * of every link of `indexes` (`notified: true`), or at the kernel's answer when one is lost or
 * `indexes` is empty. The delete runs on a socket of its own, so the namespace's other trips do
 * not wait behind it either. A missing link (ENODEV/ENOENT) resolves with `missing: true`.
 * @throws {NetlinkError} for any other refusal (syscall 'RTM_DELLINK').
 */
export async function unregisterLinks(
  ns: NsRef,
  target: { index: number; name?: string } | { group: number },
  indexes: number[],
  object?: string,
): Promise<{ notified: boolean; missing: boolean }> {
  const h = handleOf(ns)
  const what = object ?? ('group' in target ? `group ${target.group}` : (target.name ?? `#${target.index}`))
  return trip({ channel: 'rtnl', entry: 'linkUnregister', ns, ops: () => [`link.delete ${what}`] }, async () => {
    try {
      return await native().linkUnregister(h, { ...target, indexes })
    } catch (e) {
      throw toError(e, { object: what })
    }
  })
}
