// Network namespaces through the addon: `ip netns add / del`, opening by path, the threads that
// enter them. Failures mapped to the library's errors.
import { NetnsKitError } from '../errors'
import { bindingGeneration, native, type NsHandle } from './binding'
import { errnoOf, toError } from './errors'
import { trip } from './trace'

const ENOENT = 2
const EEXIST = 17

/** `ip netns add NAME` under `dir` (and `ip -n NAME link set lo up` with `loopbackUp`). */
export async function createNamespace(dir: string, name: string, loopbackUp: boolean): Promise<NsHandle> {
  return trip({ channel: 'ns', entry: 'createNamespace', ns: name, ops: () => [`create ${dir}/${name}${loopbackUp ? ' lo up' : ''}`] }, async () => {
    try {
      return await native().createNamespace(dir, name, loopbackUp)
    } catch (e) {
      if (errnoOf(e) === EEXIST && (e as { syscall?: string }).syscall === 'open') {
        throw new NetnsKitError('ERR_NETNS_KIT_NAMESPACE_EXISTS', `a network namespace named '${name}' exists (${dir}/${name})`, { cause: e })
      }
      throw toError(e, { object: name, action: `create the namespace '${name}'` })
    }
  })
}

/** Opens a namespace file; `label` names it in errors (a name, or the path). */
export async function openNamespace(path: string, label: string): Promise<NsHandle> {
  return trip({ channel: 'ns', entry: 'openNamespace', ns: path, ops: () => [`open ${path}`] }, async () => {
    try {
      return await native().openNamespace(path)
    } catch (e) {
      if (errnoOf(e) === ENOENT) throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `no network namespace ${label}`, { cause: e })
      throw toError(e, { object: path, action: `open the namespace ${path}` })
    }
  })
}

/** `ip netns del NAME` under `dir`; resolves false if there was none. */
export async function deleteNamespace(dir: string, name: string): Promise<boolean> {
  return trip({ channel: 'ns', entry: 'deleteNamespace', ns: name, ops: () => [`delete ${dir}/${name}`] }, async () => {
    try {
      return await native().deleteNamespace(dir, name)
    } catch (e) {
      throw toError(e, { object: name, action: `delete the namespace '${name}'` })
    }
  })
}

/** Changes when the binding is replaced (tests): a cached namespace handle of the old one must not be used. */
export { bindingGeneration }

/** How the addon's namespace threads are doing (jobs run, threads discarded, their home namespace). */
export function threadStats(): ReturnType<ReturnType<typeof native>['threads']> {
  return native().threads()
}
