// Finding, starting and talking to the companion process of a host namespace and store.
//
// A caller connects to the unix socket under /run/netns-kit; when nothing answers it starts a
// companion detached from itself (its own session, cwd /, stdin closed, stdout and stderr to the
// companion's log file, no other fd: everything netns-kit opens is close-on-exec), through the
// nk-exec helper that leaves it only CAP_NET_ADMIN, CAP_NET_BIND_SERVICE and CAP_SYS_ADMIN, and
// connects again until it answers. Two callers starting one at once end with one companion: the
// second loses the pid file's flock(2) and exits; both then talk to the first.
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { NetnsKitError, invalidArg } from '../errors'
import { handleOf } from '../kernel/handles'
import { spawnWithCapabilities } from '../kernel/spawn'
import { Namespace } from '../namespace'
import { RUN_DIR, companionPaths, companionPidFiles, ensureRunDir, type CompanionPaths } from './paths'
import { fromWire, lineSplitter, type HelloResult, type Op, type PrepareResult, type Reply, type StatusResult } from './protocol'

/** The capabilities a companion keeps (setns into containers, nftables and links, port 53 and low published ports). */
export const COMPANION_CAPABILITIES = ['net_admin', 'net_bind_service', 'sys_admin'] as const

export interface CompanionTarget {
  /** The host namespace of the networks served. */
  host: Namespace
  /** The SqliteStore database (its `path`). */
  store: string
  /** Default /run/netns-kit. */
  runDir?: string
  /** For a companion this call starts: the host's resolv.conf (default /etc/resolv.conf). */
  resolvConf?: string
  /** For a companion this call starts: how long it lingers without work (ms, default 2000). */
  idleMs?: number
}

export interface ConnectOptions {
  /** Start one when none answers (default true). */
  start?: boolean
  /** How long to wait for one to answer (ms, default 15000). */
  timeoutMs?: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** How the companion's entry runs: compiled (dist/companion/main.js), or from the TypeScript sources through tsx. */
function entryArgs(): string[] {
  if (__filename.endsWith('.ts')) {
    return ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'main.ts')]
  }
  return [path.join(__dirname, 'main.js')]
}

const LOG_LIMIT = 1024 * 1024

function spawnCompanion(t: CompanionTarget, paths: CompanionPaths, hostId: string, runDir: string): ChildProcess {
  ensureRunDir(runDir)
  try {
    if (fs.statSync(paths.log).size > LOG_LIMIT) fs.renameSync(paths.log, `${paths.log}.old`)
  } catch {
    /* no log yet */
  }
  const log = fs.openSync(paths.log, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
  try {
    const args = [
      ...entryArgs(),
      '--store',
      path.resolve(t.store),
      '--host',
      t.host.path,
      '--host-id',
      hostId,
      '--run-dir',
      runDir,
      ...(t.resolvConf ? ['--resolv-conf', t.resolvConf] : []),
      ...(t.idleMs !== undefined ? ['--idle-ms', String(t.idleMs)] : []),
    ]
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' }
    if (process.env.NODE_DEBUG) env.NODE_DEBUG = process.env.NODE_DEBUG
    const child = spawnWithCapabilities(COMPANION_CAPABILITIES, process.execPath, args, {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: '/',
      env,
    })
    child.on('error', () => {})
    child.unref()
    return child
  } finally {
    fs.closeSync(log)
  }
}

/** One connection to a companion: requests and their replies, matched by id. */
class Connection {
  readonly socket: net.Socket
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  #next = 1
  closed = false

  constructor(socket: net.Socket) {
    this.socket = socket
    socket.unref()
    socket.on('data', (d: Buffer) => {
      try {
        this.#onData(d)
      } catch {
        socket.destroy()
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.closed = true
      for (const p of this.#pending.values()) p.reject(new NetnsKitError('ERR_NETNS_KIT_COMPANION', 'the companion process closed the connection'))
      this.#pending.clear()
    })
  }

  readonly #onData = lineSplitter((line) => {
    const r = JSON.parse(line) as Reply
    const p = this.#pending.get(r.id)
    if (!p) return
    this.#pending.delete(r.id)
    if (!this.#pending.size) this.socket.unref()
    if (r.ok) p.resolve(r.result)
    else p.reject(fromWire(r.error))
  })

  request(op: Op, args: Record<string, unknown> = {}, timeoutMs = 30000): Promise<unknown> {
    if (this.closed) return Promise.reject(new NetnsKitError('ERR_NETNS_KIT_COMPANION', 'the connection to the companion process is closed'))
    const id = this.#next++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(new NetnsKitError('ERR_NETNS_KIT_COMPANION', `the companion process did not answer '${op}' within ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref()
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      // Held while a reply is awaited: a caller's `await` must not see its process end under it.
      this.socket.ref()
      this.socket.write(JSON.stringify({ id, op, ...args }) + '\n')
    })
  }

  close(): void {
    this.socket.destroy()
  }
}

function connectSocket(p: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p)
    s.once('connect', () => {
      s.off('error', reject)
      resolve(s)
    })
    s.once('error', reject)
  })
}

/**
 * The companion of a host namespace and store, as one caller sees it: requests are retried once
 * on a fresh connection (starting a companion again if needed) when the one they went out on
 * closes, so a companion that exited or was killed is replaced by the next call.
 */
export class Companion {
  readonly paths: CompanionPaths
  #target: CompanionTarget
  readonly #hostId: string
  readonly #runDir: string
  #conn: Connection | undefined
  #connecting: Promise<Connection> | undefined
  #hello: HelloResult | undefined

  private constructor(target: CompanionTarget) {
    const h = handleOf(target.host)
    this.#hostId = `${h.dev}:${h.ino}`
    this.#runDir = target.runDir ?? RUN_DIR
    this.#target = target
    this.paths = companionPaths({ dev: String(h.dev), ino: String(h.ino) }, target.store, this.#runDir)
  }

  /**
   * The companion of `target`, started when none answers (unless `start: false`: then ERR_NETNS_KIT_COMPANION).
   * @throws {TypeError | RangeError} `ERR_INVALID_ARG_VALUE` or `ERR_INVALID_ARG_TYPE` for bad input, before anything is done.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached, does not answer in time, or refuses the request.
   */
  static async connect(target: CompanionTarget, opts: ConnectOptions = {}): Promise<Companion> {
    if (!target || typeof target !== 'object') throw invalidArg('target', target, 'must be an object { host, store }', 'ERR_INVALID_ARG_TYPE')
    if (!(target.host instanceof Namespace)) throw invalidArg('target.host', target.host, 'must be a Namespace', 'ERR_INVALID_ARG_TYPE')
    if (typeof target.store !== 'string' || !path.isAbsolute(target.store))
      throw invalidArg('target.store', target.store, 'must be the absolute path of a SqliteStore database')
    const c = new Companion(target)
    await c.#connection(opts)
    return c
  }

  /** The host namespace and store served, with the host namespace a companion this object starts is given. */
  get target(): CompanionTarget {
    return this.#target
  }

  /**
   * The host namespace a companion this object starts from now on opens: the caller's, which is
   * alive now. A namespace's inode number is reused once it is freed, so a cached Companion of a
   * deleted host namespace can be asked for by a new one with the same identity; its old Namespace
   * (path) must not be what a companion started for the new one opens.
   * @throws {RangeError} `ERR_INVALID_ARG_VALUE` when `host` is not the namespace (device and inode) this Companion serves.
   */
  useHost(host: Namespace): void {
    const h = handleOf(host)
    if (`${h.dev}:${h.ino}` !== this.#hostId) throw invalidArg('host', host.path, `must be the namespace ${this.#hostId}`)
    if (host !== this.#target.host) this.#target = { ...this.#target, host }
  }

  /** What the companion said of itself when this connection was made. */
  get hello(): HelloResult | undefined {
    return this.#hello
  }

  async #connection(opts: ConnectOptions = {}): Promise<Connection> {
    if (this.#conn && !this.#conn.closed) return this.#conn
    if (this.#connecting) {
      // Another call is connecting: its connection serves this one too (unless it would not start one and this may).
      try {
        return await this.#connecting
      } catch (e) {
        if (opts.start === false) throw e
      }
    }
    this.#connecting ??= this.#open(opts).finally(() => {
      this.#connecting = undefined
    })
    return this.#connecting
  }

  async #open(opts: ConnectOptions): Promise<Connection> {
    const start = opts.start !== false
    const deadline = Date.now() + (opts.timeoutMs ?? 15000)
    let child: ChildProcess | undefined
    let childDone = false
    let lastError: unknown
    for (let attempt = 0; ; attempt++) {
      try {
        const conn = new Connection(await connectSocket(this.paths.socket))
        try {
          const hello = (await conn.request('hello', {}, 5000)) as HelloResult
          if (hello.key !== this.paths.key)
            throw new NetnsKitError('ERR_NETNS_KIT_COMPANION', `${this.paths.socket} is served by another companion (${hello.key})`)
          this.#hello = hello
          this.#conn = conn
          return conn
        } catch (e) {
          conn.close()
          throw e
        }
      } catch (e) {
        lastError = e
      }
      if (!start || Date.now() > deadline) {
        throw new NetnsKitError(
          'ERR_NETNS_KIT_COMPANION',
          `no companion process answers on ${this.paths.socket}${start ? ` (started one; see ${this.paths.log})` : ''}: ${(lastError as Error)?.message ?? lastError}`,
        )
      }
      if (!child || childDone) {
        child = spawnCompanion(this.#target, this.paths, this.#hostId, this.#runDir)
        childDone = false
        const mine = child
        mine.once('exit', () => {
          if (child === mine) childDone = true
        })
      }
      await sleep(Math.min(20 * (attempt + 1), 100))
    }
  }

  /**
   * One request; `start`: a companion is started when none answers (else ERR_NETNS_KIT_COMPANION).
   * A request whose connection closes under it (the companion exited or was killed) goes once
   * more, on a fresh connection.
   */
  async #request(op: Op, args: Record<string, unknown>, start: boolean): Promise<unknown> {
    const conn = await this.#connection({ start })
    try {
      return await conn.request(op, args)
    } catch (e) {
      if (!conn.closed || op === 'stop') throw e
      return (await this.#connection({ start })).request(op, args)
    }
  }

  /**
   * Makes sure a companion runs (starting one when none answers); resolves with what it says of
   * itself. A round trip, not a look at the connection: one whose companion was just killed may
   * not have seen its end yet.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached, does not answer in time, or refuses the request.
   */
  async ensure(): Promise<HelloResult> {
    this.#hello = (await this.#request('hello', {}, true)) as HelloResult
    return this.#hello
  }

  /**
   * Every change committed to the store before the call is applied by the companion when it
   * resolves. Starts none.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached, does not answer in time, or refuses the request.
   */
  async sync(): Promise<number> {
    return ((await this.#request('sync', {}, false)) as { seq: number }).seq
  }

  /**
   * Holds the endpoint's host ports (EADDRINUSE when a host process has one: the error's `port`
   * and `protocol` name it) and starts its container's resolver; starts a companion when none runs.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached, does not answer in time, or refuses the request.
   * @throws {Error} `EADDRINUSE` (with `port` and `protocol`) when a host process holds one of the endpoint's host ports.
   */
  async prepare(endpointId: string): Promise<PrepareResult> {
    return (await this.#request('prepare', { endpoint: endpointId }, true)) as PrepareResult
  }

  /**
   * What the companion serves (pid, networks, endpoints, reservations). Starts none.
   * @throws {NetnsKitError} `ERR_NETNS_KIT_COMPANION` when the companion cannot be started or reached, does not answer in time, or refuses the request.
   */
  async status(): Promise<StatusResult> {
    return (await this.#request('status', {}, false)) as StatusResult
  }

  /**
   * Asks the companion to exit and waits until its process is gone (at most `timeoutMs`, ms).
   * @throws never: a companion that is not running is already stopped.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    const conn = await this.#connection({ start: false }).catch(() => undefined)
    if (!conn) return
    const pid = this.#hello?.pid
    await conn.request('stop', {}, timeoutMs).catch(() => {})
    conn.close()
    if (pid) await waitGone(pid, timeoutMs)
  }

  /**
   * Closes this caller's connection (the companion keeps running).
   * @throws never.
   */
  close(): void {
    this.#conn?.close()
    this.#conn = undefined
  }
}

/** Whether a process runs with that pid and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > end) return false
    await sleep(20)
  }
  return true
}

/** The pid in a companion's pid file when that process is a companion that runs. */
export function companionPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim())
    if (!Number.isInteger(pid) || pid < 1) return undefined
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return alive(pid) && /companion[/\\]main\.[jt]s/.test(cmd) ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Stops every companion whose pid file is under `runDir` (SIGTERM, then SIGKILL after
 * `timeoutMs`); returns their pids. For the end of a test run, and `netns-kit` shutdown scripts.
 * @throws never: pid files that name no running companion are skipped.
 */
export async function stopAllCompanions(opts: { runDir?: string; timeoutMs?: number } = {}): Promise<number[]> {
  const pids = companionPidFiles(opts.runDir)
    .map(companionPid)
    .filter((p): p is number => p !== undefined)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      /* gone */
    }
  }
  for (const pid of pids) {
    if (!(await waitGone(pid, opts.timeoutMs ?? 3000))) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
      await waitGone(pid, 1000)
    }
  }
  return pids
}
