// A recording fake of the addon (lib/kernel/binding.ts NativeBinding), so the object API gets unit
// tests without root: it records every call (entry point, namespace, arguments, the rtnetlink
// operations and nftables messages sent) and answers with scripted results or failures shaped as
// the addon's own (native/napi/async.cc ToJsError: errno negative, syscall, strerror).
//
//   const fake = installFake()          // in place of the addon, all capabilities present
//   fake.fail('nftList', nativeError(1, 'NFT_MSG_GETTABLE'))
//   ...
//   uninstallFake()                     // the addon again (afterEach)
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { useEtcNetnsDefaults } from '../lib/etc-netns'
import { useBinding, type NativeBinding, type NativeOp, type NativeResult, type NsHandle } from '../lib/kernel/binding'
import { useCapabilities } from '../lib/kernel/privileges'

export type Entry = Exclude<keyof NativeBinding, 'encode' | 'decode' | 'ctEncode' | 'ctDecode' | 'nftEncode' | 'nftDecode'>

export interface Call {
  entry: Entry
  /** The handle the call was made on (rtnl: the first operation's). */
  ns?: FakeHandle
  args: unknown[]
}

/** A namespace handle as the addon makes them. */
export class FakeHandle implements NsHandle {
  static #next = 1000n
  readonly ino = FakeHandle.#next++
  readonly dev = 4n
  closed = false
  constructor(readonly label: string) {}
  get fd(): number {
    return this.closed ? -1 : 100
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

/** A rejection as the addon gives it (a SysError through ToJsError). */
export function nativeError(errno: number, syscall: string, detail = ''): Error {
  return Object.assign(new Error(`${syscall}${detail ? ` ${detail}` : ''}: errno ${errno}`), {
    errno: -errno,
    syscall,
    detail,
    strerror: `errno ${errno}`,
    nativeError: true,
  })
}

/** A refused operation in rtnl()'s results. */
export function opError(errno: number, syscall: string): NativeResult {
  return { errno: -errno, syscall, strerror: `errno ${errno}` }
}

type Answer = (...args: unknown[]) => unknown

let nextIndex = 10

/** A link record; its kind follows its name (br* bridge, vx* vxlan, mv* macvlan, veth* veth). */
function fakeLink(name: string, index = nextIndex++): Record<string, unknown> {
  const kind = /^br/.test(name) ? 'bridge' : /^vx/.test(name) ? 'vxlan' : /^mv/.test(name) ? 'macvlan' : /^veth/.test(name) ? 'veth' : ''
  return { index, name, kind, slaveKind: '', mtu: 1500, mac: '02:00:00:00:00:01', flags: 1, operState: 6, master: 0, link: 0, alias: '', type: 1 }
}

/** The default answer of each rtnetlink operation: a link for link.get, empty dumps, forwarding off, null for changes. */
function answerOp(op: NativeOp): NativeResult {
  switch (op.op) {
    case 'link.get':
      return fakeLink(op.name ?? `if${op.index}`, op.index ?? undefined) as unknown as NativeResult
    case 'link.list':
    case 'addr.list':
    case 'route.list':
    case 'fdb.list':
    case 'neigh.list':
      return []
    case 'netconf.get':
      return { forwarding: 0 } // off, as sysctlGet answers '0'
    default:
      return null
  }
}

export class FakeBinding {
  readonly calls: Call[] = []
  readonly #failures = new Map<Entry | '*', unknown>()
  readonly #answers = new Map<Entry, Answer>()
  readonly #opFailures = new Map<string, NativeResult>()
  #nftHandle = 1n

  /** Every later call to `entry` ('*': every entry) rejects (or throws) with `error`. */
  fail(entry: Entry | '*', error: unknown): this {
    this.#failures.set(entry, error)
    return this
  }

  /** rtnl() answers operations named `op` ('*': all) with this refusal (and the later ones as not run). */
  failOp(op: NativeOp['op'] | '*', result: NativeResult): this {
    this.#opFailures.set(op, result)
    return this
  }

  /** `entry` answers with `fn(...args)` instead of its default. */
  answer(entry: Entry, fn: Answer): this {
    this.#answers.set(entry, fn)
    return this
  }

  /** Forgets the failures and answers set (the calls stay). */
  heal(): this {
    this.#failures.clear()
    this.#opFailures.clear()
    this.#answers.clear()
    return this
  }

  /** The rtnetlink operations sent so far, in order. */
  get ops(): NativeOp[] {
    return this.calls.filter((c) => c.entry === 'rtnl').flatMap((c) => c.args[0] as NativeOp[])
  }

  /** The binding itself, for useBinding(). */
  binding(): NativeBinding {
    const call =
      (entry: Entry, fallback: Answer, sync = false) =>
      (...args: unknown[]): unknown => {
        const ns = args[0] instanceof FakeHandle ? args[0] : entry === 'rtnl' ? ((args[0] as NativeOp[])[0]?.ns as FakeHandle | undefined) : undefined
        this.calls.push({ entry, ns, args })
        const failure = this.#failures.has(entry) ? this.#failures.get(entry) : this.#failures.get('*')
        if (failure !== undefined) {
          if (sync) throw failure
          return Promise.reject(failure)
        }
        const fn = this.#answers.get(entry) ?? fallback
        try {
          const r = fn(...args)
          return sync ? r : Promise.resolve(r)
        } catch (e) {
          if (sync) throw e
          return Promise.reject(e)
        }
      }
    const rtnl = (ops: NativeOp[]): NativeResult[] => {
      let failed = false
      return ops.map((op) => {
        if (failed) return { notRun: true }
        const f = this.#opFailures.get(op.op) ?? this.#opFailures.get('*')
        if (f) {
          failed = true
          return f
        }
        return answerOp(op)
      })
    }
    return {
      createNamespace: call('createNamespace', (_dir, name) => new FakeHandle(String(name))),
      openNamespace: call('openNamespace', (p) => new FakeHandle(String(p))),
      deleteNamespace: call('deleteNamespace', () => true),
      sysctlGet: call('sysctlGet', () => '0'),
      sysctlSet: call('sysctlSet', () => undefined),
      rtnl: call('rtnl', (ops) => rtnl(ops as NativeOp[])),
      // A delete on a socket of its own (lib/kernel/rtnl.ts unregisterLinks): refused as rtnl() would refuse a
      // link.delete (failOp), rejecting with the refusal; else notified at once.
      linkUnregister: call('linkUnregister', () => {
        const f = this.#opFailures.get('link.delete') ?? this.#opFailures.get('*')
        if (f) throw f
        return { notified: true, missing: false }
      }),
      threads: call('threads', () => ({ threads: 0, jobs: 0, discarded: 0, homeIno: 0n, callerIno: 0n }), true),
      ctList: call('ctList', () => []),
      ctDelete: call('ctDelete', () => 0),
      openSocket: call('openSocket', () => ({ fd: -1, port: 0 })),
      // No socket holds a port (NatRule.publish and Network look before publishing).
      sockDiag: call('sockDiag' as Entry, (_h, queries) => (queries as unknown[]).map(() => ({ sockets: [] }))),
      tryLock: call('tryLock', () => true, true),
      unlock: call('unlock', () => undefined, true),
      nft: call('nft', (_h, msgs) => ({ ok: true, handles: (msgs as { op: string }[]).map((m) => (m.op === 'newrule' ? this.#nftHandle++ : null)) })),
      nftList: call('nftList', (_h, q) => {
        const query = q as { what: string; keys?: Buffer[] }
        return query.keys ? query.keys.map(() => null) : []
      }),
      encode: () => {
        throw new Error('the fake binding does not encode')
      },
      decode: () => null,
      ctEncode: () => {
        throw new Error('the fake binding does not encode')
      },
      ctDecode: () => null,
      nftEncode: () => {
        throw new Error('the fake binding does not encode')
      },
      nftDecode: () => null,
    } as unknown as NativeBinding
  }
}

/** CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21) */
export const ALL_CAPS = (1n << 12n) | (1n << 21n)
export const NO_NET_ADMIN = 1n << 21n

/** Puts a new fake in the addon's place, with these effective capabilities (default: all). */
let etcTmp: string | undefined

export function installFake(capabilities: bigint = ALL_CAPS): FakeBinding {
  const fake = new FakeBinding()
  useBinding(fake.binding())
  useCapabilities(capabilities)
  // The fake's namespaces are names only: the /etc/netns files a connect writes for them go to a
  // temporary directory, never the machine's /etc/netns (nor the registry under /run/netns-kit).
  etcTmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'nk-fake-etc-'))
  useEtcNetnsDefaults({ root: path.join(etcTmp, 'etc', 'netns'), registry: path.join(etcTmp, 'run', 'etc-netns') })
  return fake
}

/** The addon again, the real capabilities and /etc/netns; the fake's files are removed. */
export function uninstallFake(): void {
  useBinding(undefined)
  useCapabilities(undefined)
  useEtcNetnsDefaults({})
  if (etcTmp) fs.rmSync(etcTmp, { recursive: true, force: true })
  etcTmp = undefined
}
