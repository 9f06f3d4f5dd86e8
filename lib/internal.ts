// Package-internal state shared between modules without widening the public types.
import type { NsHandle } from './native/binding'

/** The addon handle behind each Namespace object. */
export const nsHandles = new WeakMap<object, NsHandle>()

export function handleOf(ns: object): NsHandle {
  const h = nsHandles.get(ns)
  if (!h) throw new TypeError('expected a netns-kit Namespace')
  return h
}
