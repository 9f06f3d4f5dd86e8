// Shared by the examples: throwaway namespaces removed on every exit path, a ping helper that
// runs ping inside a namespace through our own ns.spawn(), and a step printer that shows each
// step's `ip` equivalent and how long it took.
//
// House rules the examples follow: nothing is created in the machine's own (root) network
// namespace. Every topology lives in namespaces made here with random short names (nk-3fa9c1),
// one of which plays "the host", and all of them are deleted in a finally block, also on
// Ctrl-C / SIGTERM. Traffic only goes to addresses assigned inside those namespaces.
import type { ChildProcess } from 'node:child_process'
import type { Server } from 'node:net'
import { randomBytes } from 'node:crypto'
import { Namespace, NetnsKitError, connectTcp, openTcpServer } from '../lib'

/** A short random namespace name such as nk-3fa9c1. */
export function shortName(prefix = 'nk'): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`
}

const useColor = process.stdout.isTTY === true && !('NO_COLOR' in process.env)
const paint = (code: number) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s)
export const bold = paint(1)
export const dim = paint(2)
export const green = paint(32)
export const red = paint(31)

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6
}

export function formatMs(value: number): string {
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`
}

/**
 * Throwaway namespaces. `namespace(role)` creates one with a random name and records it;
 * `cleanup()` deletes every one (idempotent, never throws). Deleting a namespace removes the
 * links inside it, so veth pairs and bridges built between our namespaces go with them.
 */
export class Throwaway {
  readonly #namespaces: Namespace[] = []
  /** Names we asked for, also those whose creation failed half-way. */
  readonly names: string[] = []
  readonly roles = new Map<string, string>()
  #closing = false

  async namespace(role: string): Promise<Namespace> {
    if (this.#closing) throw new Error('cleaning up: no new namespaces')
    const name = shortName()
    this.names.push(name)
    this.roles.set(name, role)
    const ns = await Namespace.create(name)
    if (this.#closing) {
      // cleanup() started while this one was being made (Ctrl-C): do not leave it behind.
      await ns.delete().catch(() => {})
      throw new Error('cleaning up: no new namespaces')
    }
    this.#namespaces.push(ns)
    return ns
  }

  /** Deletes everything we made: which names were deleted, and which are still there (none, normally). */
  async cleanup(): Promise<{ deleted: string[]; left: string[] }> {
    this.#closing = true
    const deleted: string[] = []
    for (const ns of this.#namespaces.splice(0).reverse()) {
      await ns.delete().then(
        () => deleted.push(ns.name!),
        (e: Error) => console.error(red(`  could not delete ${ns.name}: ${e.message}`)),
      )
    }
    // Also names whose creation failed half-way or was interrupted.
    for (const name of this.names) {
      if (!deleted.includes(name) && (await Namespace.deleteNamed(name).catch(() => false))) deleted.push(name)
    }
    const present = new Set(await Namespace.list().catch(() => [] as string[]))
    return { deleted: this.names.filter((n) => deleted.includes(n)), left: this.names.filter((n) => present.has(n)) }
  }
}

/** Numbered steps: what is done, the `ip` commands that would do the same, and the time it took. */
export class Steps {
  #n = 0
  readonly timings: { title: string; ms: number }[] = []

  /**
   * Runs `fn` as the next step. `ip` lines are printed as the equivalent shell commands; give a
   * function when they depend on the result (a namespace's random name).
   */
  async run<T>(title: string, ip: string | string[] | ((result: T) => string | string[]), fn: () => Promise<T>): Promise<T> {
    const lines = (r?: T): string[] => [typeof ip === 'function' ? (r === undefined ? [] : ip(r)) : ip].flat().filter(Boolean)
    const n = ++this.#n
    const t0 = process.hrtime.bigint()
    let result: T
    try {
      result = await fn()
    } catch (e) {
      console.log(`${String(n).padStart(3)}. ${title}  ${red('FAILED')}`)
      for (const line of lines()) console.log(dim(`       $ ${line}`))
      throw e
    }
    const took = ms(t0)
    this.timings.push({ title, ms: took })
    console.log(`${String(n).padStart(3)}. ${title.padEnd(62)} ${formatMs(took).padStart(10)}`)
    for (const line of lines(result)) console.log(dim(`       $ ${line}`))
    return result
  }

  /** The sum of the step timings. */
  total(): number {
    return this.timings.reduce((a, t) => a + t.ms, 0)
  }
}

export interface PingResult {
  from: string
  to: string
  ok: boolean
  /** Round-trip time of the reply, as ping printed it. */
  rttMs?: number
  /** ping's exit status (0: a reply came back). */
  code: number | null
  output: string
}

/** Children started inside our namespaces and still running: stopped on Ctrl-C before cleanup. */
const running = new Set<ChildProcess>()

/** Registers a child spawned in one of our namespaces, so that Ctrl-C stops it before cleanup. */
export function track(child: ChildProcess): ChildProcess {
  running.add(child)
  child.once('exit', () => running.delete(child))
  return child
}

/**
 * `ip netns exec NS ping -c COUNT -W 2 ADDR`, run through ns.spawn() (the nk-exec helper), so
 * that the ping process itself runs inside the namespace. Only for addresses we assigned.
 */
export async function ping(ns: Namespace, addr: string, opts: { count?: number; label?: string } = {}): Promise<PingResult> {
  const count = opts.count ?? 1
  const args = [...(addr.includes(':') ? ['-6'] : []), '-n', '-c', String(count), '-i', '0.2', '-W', '2', addr]
  const child = track(ns.spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'] }))
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (c) => resolve(c))
  })
  const m = /time[=<]([\d.]+) ?ms/.exec(output)
  return { from: opts.label ?? ns.name ?? ns.path, to: addr, ok: code === 0, rttMs: m ? Number(m[1]) : undefined, code, output }
}

/** One line for a ping result. */
export function describePing(r: PingResult): string {
  const rtt = r.rttMs !== undefined ? `rtt ${r.rttMs} ms` : ''
  return r.ok
    ? `${green('ok')}   ${r.from} -> ${r.to}  ${rtt}`
    : `${red('FAIL')} ${r.from} -> ${r.to}  (ping exit ${r.code}) ${r.output.trim().split('\n').pop() ?? ''}`
}

/**
 * Runs an example: makes the Throwaway, removes everything in a finally block, and also on
 * SIGINT/SIGTERM (then exits 130/143). `body` returns false (or throws) when what it set out
 * to prove did not hold; the process then exits 1.
 */
export async function runExample(title: string, body: (t: Throwaway, steps: Steps) => Promise<boolean | void>): Promise<void> {
  console.log(bold(title))
  if (process.platform !== 'linux') {
    console.error('netns-kit needs Linux (network namespaces).')
    process.exitCode = 1
    return
  }
  const t = new Throwaway()
  const steps = new Steps()
  let cleaning: ReturnType<Throwaway['cleanup']> | undefined
  const cleanupOnce = () => (cleaning ??= t.cleanup())

  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: removing the throwaway namespaces ${t.names.join(', ') || '(none yet)'} ...`)
    for (const child of running) child.kill('SIGTERM')
    void cleanupOnce().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  let ok = false
  try {
    ok = (await body(t, steps)) !== false
  } catch (e) {
    const err = e as Error & { code?: string }
    console.error(red(`\nerror: ${err.message}`))
    if (err instanceof NetnsKitError && err.code === 'ERR_NETNS_KIT_PRIVILEGES') {
      console.error('run it as root, for example: sudo npx tsx ' + process.argv[1])
    } else if (err.stack) {
      console.error(dim(err.stack.split('\n').slice(1).join('\n')))
    }
  } finally {
    const t0 = process.hrtime.bigint()
    await cleanupServers()
    const { deleted, left } = await cleanupOnce()
    if (left.length) {
      console.error(red(`cleanup: could not remove ${left.join(', ')}; remove them with: ip netns del NAME`))
      ok = false
    } else if (deleted.length) {
      const names = deleted.map((n) => `${n} (${t.roles.get(n)})`).join(', ')
      console.log(dim(`cleanup: deleted ${names} in ${formatMs(ms(t0))}  ($ ${deleted.map((n) => `ip netns del ${n}`).join('; ')})`))
    }
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
  process.exitCode = ok ? 0 : 1
}

/**
 * A TCP server inside `ns` (a socket opened in the namespace by the addon, no child process) that
 * answers every connection with "TAG PEER-ADDRESS" and closes: who answered, and which source
 * address it saw. Closed by cleanupServers().
 */
const servers = new Set<Server>()
export async function whoamiServer(ns: Namespace, address: string, port: number, tag: string): Promise<void> {
  const server = await openTcpServer({ namespace: ns, address, port }, (sock) => {
    sock.end(`${tag} ${(sock.remoteAddress ?? '?').replace(/^::ffff:/, '')}\n`)
  })
  servers.add(server)
}

export async function cleanupServers(): Promise<void> {
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()))
  servers.clear()
}

/** Connects from inside `ns` to host:port and returns the server's one-line answer, or null (refused, dropped, timed out). */
export async function ask(ns: Namespace, host: string, port: number): Promise<string | null> {
  try {
    const sock = await connectTcp({ namespace: ns, host, port, timeout: 2000 })
    return await new Promise<string | null>((resolve) => {
      let data = ''
      const timer = setTimeout(() => {
        sock.destroy()
        resolve(data.trim() || null)
      }, 2000)
      sock.on('data', (d: Buffer) => {
        data += d.toString()
      })
      sock.on('close', () => {
        clearTimeout(timer)
        resolve(data.trim() || null)
      })
      sock.on('error', () => {
        clearTimeout(timer)
        resolve(null)
      })
    })
  } catch {
    return null
  }
}
