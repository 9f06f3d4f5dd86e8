// The companion's protocol on its unix socket: one JSON object per line, each way. A client sends
// `{ id, op, ... }`; the companion answers each with `{ id, ok: true, result }` or
// `{ id, ok: false, error: { name, code, message, errno?, syscall?, ... } }`, in any order.
//
//   hello                        -> { pid, key, host, store, foreground, started }
//   sync                         -> { seq }   every change committed before the call is applied
//   prepare { endpoint }         -> { ports, resolver }   after a sync: the endpoint's host ports
//                                   are held (all or none: EADDRINUSE names the port) and its
//                                   container's resolver listens; called before the DNAT rules
//   status                       -> counters and what is held (tests, `netns-kit` diagnostics)
//   stop                         -> {}   then the companion exits
import { NetlinkError, NetnsKitError, type NetnsKitErrorCode } from '../errors'

export type Request =
  | { id: number; op: 'hello' }
  | { id: number; op: 'sync' }
  | { id: number; op: 'prepare'; endpoint: string }
  | { id: number; op: 'status' }
  | { id: number; op: 'stop' }

export type Op = Request['op']

export interface HelloResult {
  pid: number
  key: string
  /** 'DEV:INO' of the host namespace it serves. */
  host: string
  store: string
  foreground: boolean
  /** ISO 8601. */
  started: string
}

export interface PrepareResult {
  /** The host ports held for the endpoint ('tcp 0.0.0.0:8080'). */
  ports: string[]
  /** A resolver listens in the endpoint's container. */
  resolver: boolean
}

export interface StatusResult {
  pid: number
  seq: number
  endpoints: number
  resolvers: { ns: string; path?: string; upstreams: string[] }[]
  reservations: { endpoint: string; ports: string[] }[]
  healed: number
  hostUpstreams: string[]
  capabilities: string
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WireError }

export interface WireError {
  name: string
  message: string
  code?: string
  errno?: number
  syscall?: string
  /** A port reservation that failed: which one. */
  port?: number
  protocol?: string
}

/** The longest line either side accepts (a status of many endpoints fits). */
export const MAX_LINE = 16 * 1024 * 1024

/** Splits a byte stream into lines; calls `onLine` per complete line. Throws past MAX_LINE. */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buf = ''
  return (chunk) => {
    buf += chunk.toString('utf8')
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line.trim()) onLine(line)
    }
    if (buf.length > MAX_LINE) throw new Error('line too long')
  }
}

export function toWire(e: unknown): WireError {
  const err = e as { name?: string; message?: string; code?: unknown; errno?: unknown; syscall?: unknown; port?: unknown; protocol?: unknown }
  return {
    ...(typeof err?.port === 'number' ? { port: err.port } : {}),
    ...(typeof err?.protocol === 'string' ? { protocol: err.protocol } : {}),
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    ...(typeof err?.errno === 'number' ? { errno: err.errno } : {}),
    ...(typeof err?.syscall === 'string' ? { syscall: err.syscall } : {}),
  }
}

/** The error a companion reported, as one of the library's classes (with `port` and `protocol` when it concerned one). */
export function fromWire(w: WireError): Error {
  let e: Error
  if (w.name === 'NetlinkError' && typeof w.errno === 'number') {
    e = new NetlinkError({ errno: w.errno, syscall: w.syscall ?? 'companion' })
    e.message = w.message
  } else if (typeof w.code === 'string' && w.code.startsWith('ERR_NETNS_KIT_')) {
    e = new NetnsKitError(w.code as NetnsKitErrorCode, w.message)
  } else {
    e = new NetnsKitError('ERR_NETNS_KIT_COMPANION', `the companion process failed: ${w.message}`)
  }
  if (typeof w.port === 'number') Object.assign(e, { port: w.port, protocol: w.protocol })
  return e
}
