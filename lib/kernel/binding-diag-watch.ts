// Types of the addon functions for sock_diag (native/napi/diag.cc) and rtnetlink watches
// (native/napi/watch.cc), merged into NativeBinding (./binding) by declaration merging; lib/kernel/diag.ts
// wraps them (the only caller).
import type { NativeAddr, NativeLink, NativeNeigh, NativeOpError, NativeRoute, NsHandle } from './binding'

/** One SOCK_DIAG_BY_FAMILY dump: a family and protocol, their states, an optional port filter. */
export interface NativeSockQuery {
  family: 4 | 6
  protocol: 'tcp' | 'udp' | 'sctp'
  /** Bits 1 << TCP_* (default: LISTEN and CLOSE, as `ss -l`). */
  states?: number
  /** INET_DIAG bytecode as `ss 'sport = :P'`. */
  port?: number
  /** INET_DIAG bytecode as `ss 'sport >= :A and sport <= :B'` (both or neither). */
  portFirst?: number
  portLast?: number
}

/** A socket as inet_diag reports it (inet_diag_msg and the attributes modelled). */
export interface NativeSock {
  family: 4 | 6
  protocol: 'tcp' | 'udp' | 'sctp' | number
  /** TCP_* state: 10 LISTEN, 7 CLOSE (an unconnected UDP socket). */
  state: number
  address: string
  port: number
  peer?: string
  peerPort?: number
  /** The device the socket is bound to (SO_BINDTODEVICE), 0 if none. */
  ifindex: number
  uid: number
  inode: number
  cookie: bigint
  rqueue: number
  wqueue: number
  v6only?: boolean
  cgroupId?: bigint
  /** SCTP: every local address of the endpoint. */
  locals?: string[]
}

export interface NativeSockResult {
  sockets: NativeSock[]
  /** The kernel refused this dump (ENOENT: no diag module for the protocol). */
  error?: NativeOpError
}

/** What one wakeup of a watch read from its subscription socket. */
export type NativeWatchEvent =
  | { type: 'new' | 'del'; group: 'link'; link: NativeLink }
  | { type: 'new' | 'del'; group: 'address'; addr: NativeAddr }
  | { type: 'new' | 'del'; group: 'route'; route: NativeRoute }
  | { type: 'new' | 'del'; group: 'neighbour'; neigh: NativeNeigh }
  | { type: 'overrun' }
  | { type: 'error'; errno: number; syscall: string; strerror: string }

export interface NativeWatchStats {
  datagrams: number
  messages: number
  events: number
  ignored: number
  malformed: number
  overruns: number
  discarded: number
  foreign: number
  receiveBuffer?: number
  closed: boolean
}

/** A subscription socket polled on the Node event loop (uv_poll). */
export interface NativeWatcher {
  /**
   * Starts reading; `onBatch` gets each wakeup's events. After an overrun or an error reading stops
   * until resume(). `persistent` false: the watch does not keep the event loop alive (uv_unref).
   */
  start(onBatch: (events: NativeWatchEvent[]) => void, persistent?: boolean): void
  /** Stops reading (the kernel's receive buffer queues meanwhile). */
  pause(): void
  resume(): void
  /** Closes the socket at once; idempotent. */
  close(): void
  stats(): NativeWatchStats
}

declare module './binding' {
  interface NativeLink {
    /** IFLA_GROUP (0: the default group). */
    group?: number
  }
  interface NativeBinding {
    /** One inet_diag dump per query on the namespace's NETLINK_SOCK_DIAG socket. */
    sockDiag(ns: NsHandle, queries: NativeSockQuery[]): Promise<NativeSockResult[]>
    /** The exact request sockDiag() sends for `query` (sequence number 0). */
    sockDiagEncode(query: NativeSockQuery): Buffer
    /** Decodes one SOCK_DIAG_BY_FAMILY reply; null when malformed. */
    sockDiagDecode(msg: Buffer, protocol: 'tcp' | 'udp' | 'sctp'): NativeSock | null
    /** A subscription socket opened inside `ns`, a member of `groups` once the promise resolves. */
    watchOpen(ns: NsHandle, spec: { groups: ('link' | 'address' | 'route' | 'neighbour')[]; receiveBuffer?: number; drop?: number[] }): Promise<NativeWatcher>
  }
}
