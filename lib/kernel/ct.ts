// Connection tracking (ctnetlink) inside a namespace through the addon.
import { native, type NativeCtEntry, type NativeCtFilter } from './binding'
import { toError } from './errors'
import { handleOf, type NsRef } from './handles'
import { trip } from './trace'

/** The entries matching `filter` (one dump); `what` describes the filter for errors. */
export async function ctList(ns: NsRef, filter: NativeCtFilter, what: string): Promise<NativeCtEntry[]> {
  const h = handleOf(ns)
  return trip({ channel: 'ct', entry: 'ctList', ns, ops: () => [`list ${what}`.trim()] }, async () => {
    try {
      return await native().ctList(h, filter)
    } catch (e) {
      throw toError(e, { object: `in ${String(ns)}`, action: `read the conntrack table of ${String(ns)}` })
    }
  })
}

/** Deletes the entries matching `filter` (a dump, then one pipelined batch of deletes); resolves with how many. */
export async function ctDelete(ns: NsRef, filter: NativeCtFilter, what: string): Promise<number> {
  const h = handleOf(ns)
  return trip({ channel: 'ct', entry: 'ctDelete', ns, ops: () => [`delete ${what}`.trim()] }, async () => {
    try {
      return await native().ctDelete(h, filter)
    } catch (e) {
      throw toError(e, { object: `${what} in ${String(ns)}`, action: `delete conntrack entries in ${String(ns)}` })
    }
  })
}
