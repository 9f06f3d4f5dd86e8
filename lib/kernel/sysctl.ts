// net.* sysctls inside a namespace through the addon (the file is opened on a thread inside it).
import { NetnsKitError } from '../errors'
import { native } from './binding'
import { errnoOf, toError } from './errors'
import { handleOf, type NsRef } from './handles'
import { trip } from './trace'

const ENOENT = 2

function missing(ns: NsRef, key: string, e: unknown): NetnsKitError {
  return new NetnsKitError('ERR_NETNS_KIT_NO_SYSCTL', `there is no sysctl ${key} in ${String(ns)}`, { cause: e })
}

/** `sysctl -n KEY` in `ns`; `rel` is the path below /proc/sys/net (lib/validate.ts sysctlPath). */
export async function sysctlGet(ns: NsRef, key: string, rel: string): Promise<string> {
  const h = handleOf(ns)
  return trip({ channel: 'sysctl', entry: 'sysctlGet', ns, ops: () => [key] }, async () => {
    try {
      return await native().sysctlGet(h, rel)
    } catch (e) {
      if (errnoOf(e) === ENOENT) throw missing(ns, key, e)
      throw toError(e, { object: key, action: `read ${key}` })
    }
  })
}

/** `sysctl -w KEY=VALUE` in `ns`. */
export async function sysctlSet(ns: NsRef, key: string, rel: string, value: string): Promise<void> {
  const h = handleOf(ns)
  return trip({ channel: 'sysctl', entry: 'sysctlSet', ns, ops: () => [`${key}=${value}`] }, async () => {
    try {
      await native().sysctlSet(h, rel, value)
    } catch (e) {
      if (errnoOf(e) === ENOENT) throw missing(ns, key, e)
      throw toError(e, { object: key, action: `set ${key}` })
    }
  })
}
