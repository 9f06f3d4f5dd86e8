// The addon handle behind each Namespace object, kept out of the public types. Namespace
// registers its handle here; the kernel layer looks it up for every call, so a closed or deleted
// namespace is refused before anything reaches the addon.
import type { NsHandle } from './binding'
import { NetnsKitError, invalidArg } from '../errors'

/** What the kernel layer needs of a namespace object: its handle (registered here) and how to name it. */
export interface NsRef {
  readonly name: string | undefined
  readonly path: string
  toString(): string
}

const handles = new WeakMap<object, NsHandle>()
/** Namespaces whose handles were released: 'closed' (close()) or 'deleted' (delete(), the namespace is gone). */
const released = new WeakMap<object, 'closed' | 'deleted'>()

/** Registers the handle of a new Namespace object. */
export function registerHandle(ns: NsRef, h: NsHandle): void {
  handles.set(ns, h)
}

/** Marks the namespace's handle released; resolves once the addon let go of it. Idempotent. */
export async function releaseHandle(ns: NsRef, how: 'closed' | 'deleted'): Promise<void> {
  const was = released.get(ns)
  if (was !== 'deleted') released.set(ns, how)
  if (was === undefined) await handles.get(ns)?.close()
}

/** The handle itself, closed or not (device and inode stay readable). */
export function rawHandle(ns: object): NsHandle | undefined {
  return handles.get(ns)
}

/**
 * The addon handle of `ns`; TypeError for an object that is not a netns-kit Namespace,
 * ERR_NETNS_KIT_CLOSED after close(), ERR_NETNS_KIT_NO_NAMESPACE after delete().
 */
export function handleOf(ns: unknown): NsHandle {
  const h = typeof ns === 'object' && ns !== null ? handles.get(ns) : undefined
  if (!h) throw invalidArg('namespace', ns, 'must be a netns-kit Namespace', 'ERR_INVALID_ARG_TYPE')
  const state = released.get(ns as object)
  if (state === 'deleted') {
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `${String(ns)} was deleted: the namespace is gone (create it again to use it)`)
  }
  if (state === 'closed') throw new NetnsKitError('ERR_NETNS_KIT_CLOSED', `${String(ns)} is closed: open it again to use it`)
  return h
}
