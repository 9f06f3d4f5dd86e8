// Sockets created inside a namespace by the addon's threads, and flock(2) for the file store.
import { native, type NativeSocketSpec } from './binding'
import { toError } from './errors'
import { handleOf, type NsRef } from './handles'
import { trip } from './trace'

export type { NativeSocketSpec as SocketSpec }

/** A socket made inside `ns` (non-blocking, close-on-exec, bound when `spec.address` is given); the caller owns the fd. */
export async function openSocket(ns: NsRef, spec: NativeSocketSpec): Promise<{ fd: number; port: number }> {
  const h = handleOf(ns)
  const where = spec.address ? `${spec.family === 6 ? `[${spec.address}]` : spec.address}:${spec.port ?? 0}` : `${spec.type}${spec.family}`
  return trip({ channel: 'socket', entry: 'openSocket', ns, ops: () => [`${spec.type} ${where}`] }, async () => {
    try {
      return await native().openSocket(h, spec)
    } catch (e) {
      throw toError(e, { object: `${where} in ${String(ns)}`, action: `open a socket in ${String(ns)}` })
    }
  })
}

/** flock(fd, LOCK_EX | LOCK_NB): true when locked, false when another open file holds the lock. */
export function tryLock(fd: number, file: string): boolean {
  try {
    return native().tryLock(fd)
  } catch (e) {
    throw toError(e, { object: file })
  }
}
