// Sockets opened inside a network namespace by the addon's threads and handed to Node's
// own net and dgram modules by fd: servers and clients inside a namespace with no child
// process and no setns on the main thread.
//
// UDP needs no native datagram wrapper: dgram's documented `socket.bind({ fd })` (the
// BindOptions `fd` property, nodejs/node#21745) wraps an existing UDP socket, as
// `server.listen({ fd })` and `new net.Socket({ fd })` do for TCP. libuv then drives the
// fd on the main loop like any socket Node made itself; nothing here blocks or calls setns.
import * as dgram from 'node:dgram'
import * as fs from 'node:fs'
import * as net from 'node:net'
import { invalidArg } from './errors'
import { openSocket, type SocketSpec } from './kernel/sockets'
import { defaultNamespace, type Namespace } from './namespace'
import { checkInt } from './validate'

async function open(namespace: Namespace | undefined, spec: SocketSpec): Promise<number> {
  const ns = await defaultNamespace(namespace)
  return (await openSocket(ns, spec)).fd
}

function adopt<T>(fd: number, make: () => T): T {
  try {
    return make()
  } catch (e) {
    fs.closeSync(fd)
    throw e
  }
}

function checkFamilyAddress(address: unknown, arg: string): 4 | 6 {
  if (typeof address !== 'string' || net.isIP(address) === 0) throw invalidArg(arg, address, 'must be an IPv4 or IPv6 address')
  return net.isIP(address) as 4 | 6
}

export interface NamespaceSocketOptions {
  /** The namespace the socket lives in (default: this process's). */
  namespace?: Namespace
  /** The local address to bind ('127.0.0.11', '::'). */
  address: string
  /** The local port (0 or absent: the kernel picks one). */
  port?: number
  /** IP_FREEBIND: bind an address no link has (yet). */
  freebind?: boolean
}

/**
 * A UDP socket bound inside a namespace (`ip netns exec NS socat UDP-RECV:...` without the
 * child process): an ordinary dgram.Socket, already listening.
 * `opts.port` 0 to 65535 (0: the kernel picks one).
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` for an address that is not IPv4 or IPv6, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad port or namespace, before anything reaches the kernel.
 * @throws {NetlinkError} when a system call inside the namespace fails, with `syscall` ('socket', 'bind', 'setsockopt') and `code`: `'EADDRINUSE'` for a port in use, `'EADDRNOTAVAIL'` for an address no link has (without `freebind`), `'EACCES'` for a port below 1024 without CAP_NET_BIND_SERVICE.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function openUdpSocket(opts: NamespaceSocketOptions): Promise<dgram.Socket> {
  const family = checkFamilyAddress(opts?.address, 'opts.address')
  const port = opts.port === undefined ? 0 : checkInt(opts.port, 'opts.port', 0, 65535)
  const fd = await open(opts.namespace, { family, type: 'udp', address: opts.address, port, freebind: opts.freebind === true })
  const sock = adopt(fd, () => dgram.createSocket(family === 6 ? 'udp6' : 'udp4'))
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    // dgram's documented bind({ fd }) adopts an existing socket.
    try {
      sock.bind({ fd }, () => {
        sock.off('error', reject)
        resolve()
      })
    } catch (e) {
      fs.closeSync(fd)
      reject(e)
    }
  })
  return sock
}

/**
 * A TCP server listening inside a namespace: an ordinary net.Server (SO_REUSEADDR set unless
 * `reuseAddr: false`), already listening; `connectionListener` as for net.createServer().
 * `opts.port` 0 to 65535 (0: the kernel picks one), `opts.backlog` 1 to 65535 (default 511).
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` for an address that is not IPv4 or IPv6, `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad port, backlog, reuseAddr or namespace, before anything reaches the kernel.
 * @throws {NetlinkError} when a system call inside the namespace fails, with `syscall` ('socket', 'bind', 'setsockopt') and `code`: `'EADDRINUSE'` for a port in use, `'EADDRNOTAVAIL'` for an address no link has (without `freebind`), `'EACCES'` for a port below 1024 without CAP_NET_BIND_SERVICE.
 * @throws {Error} Node's `listen` error when the server cannot listen on the socket.
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function openTcpServer(
  opts: NamespaceSocketOptions & { backlog?: number; reuseAddr?: boolean },
  connectionListener?: (socket: net.Socket) => void,
): Promise<net.Server> {
  const family = checkFamilyAddress(opts?.address, 'opts.address')
  const port = opts.port === undefined ? 0 : checkInt(opts.port, 'opts.port', 0, 65535)
  const backlog = opts.backlog === undefined ? 511 : checkInt(opts.backlog, 'opts.backlog', 1, 65535)
  if (opts.reuseAddr !== undefined && typeof opts.reuseAddr !== 'boolean')
    throw invalidArg('opts.reuseAddr', opts.reuseAddr, 'must be a boolean', 'ERR_INVALID_ARG_TYPE')
  const fd = await open(opts.namespace, {
    family,
    type: 'tcp',
    address: opts.address,
    port,
    reuseAddr: opts.reuseAddr !== false,
    freebind: opts.freebind === true,
  })
  const server = adopt(fd, () => net.createServer(connectionListener))
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      server.close()
      reject(e)
    })
    server.listen({ fd, backlog }, () => resolve())
  })
  return server
}

/**
 * A TCP connection made from inside a namespace (`ip netns exec NS socat - TCP:HOST:PORT`
 * without the child process): an ordinary net.Socket, connected.
 * `opts.port` 1 to 65535; `opts.timeout` in milliseconds (0 or absent: no timeout but the kernel's).
 * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` for a host that is not an IPv4 or IPv6 address (no names), `ERR_INVALID_ARG_TYPE` or `ERR_OUT_OF_RANGE` for a bad port, timeout or namespace, before anything reaches the kernel.
 * @throws {Error} Node's connect error (`code` `'ECONNREFUSED'`, `'EHOSTUNREACH'`, `'ENETUNREACH'`; `'ETIMEDOUT'` after `timeout`).
 * @throws {NetlinkError} when the socket cannot be made inside the namespace (`syscall` 'socket').
 * @throws {NetnsKitError} `ERR_NETNS_KIT_CLOSED` after the namespace's close(), `ERR_NETNS_KIT_NO_NAMESPACE` once the namespace is deleted.
 * @throws {PrivilegeError} `ERR_NETNS_KIT_PRIVILEGES` without root or the capabilities it names (CAP_NET_ADMIN, CAP_SYS_ADMIN).
 */
export async function connectTcp(opts: { namespace?: Namespace; host: string; port: number; timeout?: number }): Promise<net.Socket> {
  const family = checkFamilyAddress(opts?.host, 'opts.host')
  const port = checkInt(opts.port, 'opts.port', 1, 65535)
  const timeout = opts.timeout === undefined ? 0 : checkInt(opts.timeout, 'opts.timeout', 0, 2 ** 31 - 1)
  const fd = await open(opts.namespace, { family, type: 'tcp' })
  const sock = adopt(fd, () => new net.Socket({ fd, readable: true, writable: true }))
  await new Promise<void>((resolve, reject) => {
    const timer = timeout
      ? setTimeout(() => {
          const e = Object.assign(new Error(`connect ETIMEDOUT ${opts.host}:${port}`), { code: 'ETIMEDOUT', syscall: 'connect' })
          sock.destroy(e)
        }, timeout)
      : undefined
    sock.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    sock.connect(port, opts.host, () => {
      clearTimeout(timer)
      sock.removeAllListeners('error')
      resolve()
    })
  })
  return sock
}
