// Link groups (IFLA_GROUP): `ip link set DEV group N` and `ip link delete group N`. Deleting a
// group removes all its links in one RTM_DELLINK, so the kernel unregisters them together and
// waits for one RCU grace period instead of one per link: the way to tear many veths down at once.
import { invalidArg } from './errors'
import { runOne } from './kernel/rtnl'
import { checkInt } from './validate'
import type { Link } from './link'
import type { Namespace } from './namespace'

/** Checks a link group number: 0 (the default group) to 2^32 - 1. */
export function checkLinkGroup(group: unknown, arg = 'group'): number {
  return checkInt(group, arg, 0, 2 ** 32 - 1)
}

/**
 * `ip link set DEV group N` (0: back to the default group).
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` for a group that is not an integer, `ERR_OUT_OF_RANGE` outside 0..2^32 - 1, before anything reaches the kernel.
 * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when the link is gone.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function setLinkGroup(link: Link, group: number): Promise<void> {
  checkLinkGroup(group)
  await runOne({ ns: link.namespace, op: 'link.set', index: link.index, group, object: `${link.name} group ${group}` })
}

/**
 * `ip -n NS link delete group N`: deletes every link of group `group` in `ns` with one message
 * (deleting one end of a veth pair removes both). The kernel refuses the default group 0, which
 * holds every link not put in another group: refused here before anything is sent. A group with no
 * link left is ENODEV, or nothing with `ignoreMissing`.
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_TYPE` for a group that is not an integer or options that are not an object with a boolean `ignoreMissing`, `ERR_OUT_OF_RANGE` for a group outside 1..2^32 - 1 (0 included), before anything reaches the kernel.
 * @throws {NetlinkError} when the kernel refuses a message (`code` such as `'EEXIST'`, `errno`, `syscall` such as `'RTM_NEWLINK'`, `extack`). `'ENODEV'` when no link is in the group (unless `ignoreMissing`).
 * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `ns` is not a netns-kit Namespace.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once it is deleted.
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function deleteLinkGroup(ns: Namespace, group: number, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  checkInt(group, 'group', 1, 2 ** 32 - 1)
  if (opts === null || typeof opts !== 'object') throw invalidArg('opts', opts, 'must be an object', 'ERR_INVALID_ARG_TYPE')
  if (opts.ignoreMissing !== undefined && typeof opts.ignoreMissing !== 'boolean') {
    throw invalidArg('opts.ignoreMissing', opts.ignoreMissing, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  }
  await runOne({ ns, op: 'link.delete', group, ignoreMissing: opts.ignoreMissing === true, object: `group ${group}` })
}
