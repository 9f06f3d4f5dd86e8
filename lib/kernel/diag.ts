// sock_diag (inet_diag) dumps and rtnetlink subscription sockets of a namespace, through the addon.
import './binding-diag-watch'
import { native, type NsHandle } from './binding'
import type { NativeSockQuery, NativeSockResult, NativeWatcher } from './binding-diag-watch'
import { toError } from './errors'
import { handleOf, type NsRef } from './handles'
import { trip } from './trace'

export type * from './binding-diag-watch'

/**
 * One inet_diag dump per query on the namespace's NETLINK_SOCK_DIAG socket (`ss -ltnu`); a
 * query the kernel refused comes back with its `error` (ENOENT: no such protocol or diag module).
 */
export async function sockDiag(ns: NsRef, queries: NativeSockQuery[]): Promise<NativeSockResult[]> {
  const h = handleOf(ns)
  return trip(
    { channel: 'socket', entry: 'sockDiag', ns, ops: () => queries.map((q) => `${q.protocol}${q.family}${q.port !== undefined ? ` sport ${q.port}` : ''}`) },
    async () => {
      try {
        return await native().sockDiag(h, queries)
      } catch (e) {
        throw toError(e, { object: `the sockets of ${String(ns)}`, action: `list the sockets of ${String(ns)}` })
      }
    },
  )
}

/** A subscription socket opened inside the namespace of `h`, a member of `groups` once this resolves. */
export async function openWatch(
  ns: NsRef,
  h: NsHandle,
  spec: { groups: ('link' | 'address' | 'route' | 'neighbour')[]; receiveBuffer?: number; drop?: number[] },
): Promise<NativeWatcher> {
  return trip({ channel: 'rtnl', entry: 'watchOpen', ns, ops: () => [`watch ${spec.groups.join(' ')}`] }, async () => {
    try {
      return await native().watchOpen(h, spec)
    } catch (e) {
      throw toError(e, { object: `a watch of ${String(ns)}`, action: `watch ${String(ns)}` })
    }
  })
}
