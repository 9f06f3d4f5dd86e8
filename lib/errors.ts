import * as util from 'node:util'

// Linux errno names by number (<asm-generic/errno-base.h>, <asm-generic/errno.h>): libuv's
// util.getSystemErrorName knows only a subset and answers 'Unknown system error -66' for the rest.
const ERRNO_NAMES: readonly string[] = (
  '- ' +
  'EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT ENOTBLK EBUSY ' +
  'EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK ' +
  'EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP - ENOMSG EIDRM ECHRNG EL2NSYNC ' +
  'EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC EBADSLT - EBFONT ENOSTR ' +
  'ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO EMULTIHOP EDOTDOT EBADMSG ' +
  'EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC EILSEQ ERESTART ESTRPIPE ' +
  'EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP ' +
  'EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ' +
  'ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED EHOSTDOWN EHOSTUNREACH ' +
  'EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ' +
  'ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON'
).split(' ')
// Kernel-internal errnos that netlink lets out (<linux/errno.h>).
const KERNEL_ERRNO_NAMES: Record<number, string> = {
  512: 'ERESTARTSYS',
  514: 'ERESTARTNOHAND',
  515: 'ENOIOCTLCMD',
  521: 'EBADHANDLE',
  522: 'ENOTSYNC',
  523: 'EBADCOOKIE',
  524: 'ENOTSUPP',
  525: 'ETOOSMALL',
  526: 'ESERVERFAULT',
  527: 'EBADTYPE',
  528: 'EJUKEBOX',
  529: 'EIOCBQUEUED',
}

/** The kernel's name of a (positive) errno: 'EEXIST', 'EOPNOTSUPP' (not libuv's 'ENOTSUP'); 'E<n>' when it has none. */
export function errnoName(errno: number): string {
  const name = ERRNO_NAMES[errno] ?? KERNEL_ERRNO_NAMES[errno]
  return name && name !== '-' ? name : `E${errno}`
}

/**
 * A refusal from the kernel, shaped like Node's system errors: `code` ('EEXIST'), `errno`
 * (negative), `syscall` (the netlink operation, 'RTM_NEWLINK'), the object it concerned and
 * the kernel's extended-ACK text when it sent one.
 */
export class NetlinkError extends Error {
  readonly code: string
  readonly errno: number
  readonly syscall: string
  readonly object: string | undefined
  readonly extack: string | undefined
  constructor(opts: { errno: number; syscall: string; object?: string; extack?: string; strerror?: string }) {
    const errno = opts.errno > 0 ? -opts.errno : opts.errno
    const code = errnoName(-errno)
    const what = opts.strerror ?? code
    super(`${opts.syscall}${opts.object ? ` ${opts.object}` : ''}: ${what}${opts.extack ? ` (${opts.extack})` : ''}`)
    this.name = 'NetlinkError'
    this.code = code
    this.errno = errno
    this.syscall = opts.syscall
    this.object = opts.object
    this.extack = opts.extack
  }
}

/**
 * The same refusal about `object` (a link the caller knows by another name than the one the
 * message carried, such as a macvlan created under a temporary name).
 */
export function relabelled(e: NetlinkError, object: string): NetlinkError {
  const head = `${e.syscall}${e.object ? ` ${e.object}` : ''}: `
  let what = e.message.startsWith(head) ? e.message.slice(head.length) : e.code
  if (e.extack && what.endsWith(` (${e.extack})`)) what = what.slice(0, -(e.extack.length + 3))
  const r = new NetlinkError({ errno: e.errno, syscall: e.syscall, object, extack: e.extack, strerror: what })
  r.stack = e.stack?.replace(e.message, r.message)
  return r
}

/** Every code a NetnsKitError carries (a misspelt code does not compile). */
export type NetnsKitErrorCode =
  /** Namespaces */
  | 'ERR_NETNS_KIT_CLOSED'
  | 'ERR_NETNS_KIT_NO_NAMESPACE'
  | 'ERR_NETNS_KIT_NAMESPACE_EXISTS'
  | 'ERR_NETNS_KIT_UNNAMED'
  | 'ERR_NETNS_KIT_NO_SYSCTL'
  /** Privileges (PrivilegeError) */
  | 'ERR_NETNS_KIT_PRIVILEGES'
  /** Links */
  | 'ERR_NETNS_KIT_NOT_A_BRIDGE'
  | 'ERR_NETNS_KIT_WRONG_KIND'
  /** NAT */
  | 'ERR_NETNS_KIT_PORT_ALLOCATED'
  | 'ERR_NETNS_KIT_NO_FREE_PORT'
  | 'ERR_NETNS_KIT_NO_ROUTE'
  /** Networks and endpoints */
  | 'ERR_NETNS_KIT_NETWORK_EXISTS'
  | 'ERR_NETNS_KIT_NO_NETWORK'
  | 'ERR_NETNS_KIT_NETWORK_IN_USE'
  | 'ERR_NETNS_KIT_ENDPOINT_EXISTS'
  | 'ERR_NETNS_KIT_WRONG_DRIVER'
  | 'ERR_NETNS_KIT_UNSUPPORTED'
  | 'ERR_NETNS_KIT_VNI_IN_USE'
  | 'ERR_NETNS_KIT_STOPPED'
  | 'ERR_NETNS_KIT_NO_ENDPOINT'
  | 'ERR_NETNS_KIT_IFNAME_IN_USE'
  | 'ERR_NETNS_KIT_NETWORK_BUSY'
  | 'ERR_NETNS_KIT_NETWORK_NOT_READY'
  | 'ERR_NETNS_KIT_NETWORK_FULL'
  | 'ERR_NETNS_KIT_NO_BRIDGE'
  | 'ERR_NETNS_KIT_MAC_IN_USE'
  /** IPAM */
  | 'ERR_NETNS_KIT_IP_IN_USE'
  | 'ERR_NETNS_KIT_IP_OUTSIDE_SUBNET'
  | 'ERR_NETNS_KIT_IP_RESERVED'
  | 'ERR_NETNS_KIT_POOL_EXHAUSTED'
  | 'ERR_NETNS_KIT_SUBNET_OVERLAP'
  /** State stores */
  | 'ERR_NETNS_KIT_STORE'
  | 'ERR_NETNS_KIT_STORE_CONFLICT'
  | 'ERR_NETNS_KIT_STORE_CORRUPT'
  | 'ERR_NETNS_KIT_STORE_UNAVAILABLE'
  | 'ERR_NETNS_KIT_LOCK_TIMEOUT'
  | 'ERR_NETNS_KIT_TIMEOUT'
  | 'ERR_NETNS_KIT_STORE_BUSY'
  | 'ERR_NETNS_KIT_NOT_OWNER'
  | 'ERR_NETNS_KIT_WRONG_STATE'
  | 'ERR_NETNS_KIT_RULE_OWNED'
  /** The addon: not built, or a failure it did not describe (a bug: please report it) */
  | 'ERR_NETNS_KIT_NOT_BUILT'
  | 'ERR_NETNS_KIT_INTERNAL'
  /** The companion process: it could not be started or reached, or it failed a request */
  | 'ERR_NETNS_KIT_COMPANION'
  /** An optional peer dependency a feature needs is not installed (`etcd3` for EtcdStore and overlay networks) */
  | 'ERR_NETNS_KIT_MISSING_DEPENDENCY'

/** A library state error; `code` is one of the ERR_NETNS_KIT_* codes (NetnsKitErrorCode). */
export class NetnsKitError extends Error {
  readonly code: NetnsKitErrorCode
  constructor(code: NetnsKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NetnsKitError'
    this.code = code
  }
}

/** Missing root or capabilities; `missing` names them (CAP_NET_ADMIN, CAP_SYS_ADMIN). */
export class PrivilegeError extends NetnsKitError {
  readonly missing: string[]
  constructor(missing: string[], action: string) {
    super(
      'ERR_NETNS_KIT_PRIVILEGES',
      `netns-kit needs ${missing.join(' and ')} to ${action}: run as root or grant ${missing.join(' + ')} ` +
        `(for example: setcap cap_net_admin,cap_sys_admin+ep $(command -v node))`,
    )
    this.name = 'PrivilegeError'
    this.missing = missing
  }
}

/** Node's codes for bad input. */
export type InvalidArgCode = 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE'
type CodedError = (TypeError | RangeError) & { code: InvalidArgCode }

/** Bad input: TypeError with code ERR_INVALID_ARG_VALUE (or ERR_INVALID_ARG_TYPE). */
export function invalidArg(
  name: string,
  value: unknown,
  reason: string,
  code: 'ERR_INVALID_ARG_VALUE' | 'ERR_INVALID_ARG_TYPE' = 'ERR_INVALID_ARG_VALUE',
): CodedError {
  const shown = typeof value === 'string' ? `'${value}'` : util.inspect(value)
  const e = new TypeError(`The argument '${name}' ${reason}. Received ${shown}`) as CodedError
  e.code = code
  return e
}

/** Out of range: RangeError with code ERR_OUT_OF_RANGE. */
export function outOfRange(name: string, range: string, value: unknown): CodedError {
  const e = new RangeError(`The value of '${name}' is out of range. It must be ${range}. Received ${util.inspect(value)}`) as CodedError
  e.code = 'ERR_OUT_OF_RANGE'
  return e
}
