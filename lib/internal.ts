// Package-internal state shared between modules without widening the public types.
import type { NsHandle } from './native/binding'
import { NetnsKitError, invalidArg } from './errors'

/** The addon handle behind each Namespace object. */
export const nsHandles = new WeakMap<object, NsHandle>()

/** Namespaces whose handles were closed (close() or delete()). */
export const closedNs = new WeakSet<object>()

export function handleOf(ns: object): NsHandle {
  const h = nsHandles.get(ns)
  if (!h) throw invalidArg('namespace', ns, 'must be a netns-kit Namespace', 'ERR_INVALID_ARG_TYPE')
  if (closedNs.has(ns)) throw new NetnsKitError('ERR_NETNS_KIT_CLOSED', `${String(ns)} is closed: open it again to use it`)
  return h
}
