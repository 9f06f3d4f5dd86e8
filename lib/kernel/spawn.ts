// Processes inside a namespace, through the nk-exec helper (native/ns/exec.c): it enters the
// namespace, then execs the command. When it cannot (no such command, not executable, the
// namespace refused), it writes "STAGE ERRNO" to a close-on-exec status pipe and exits; the
// ChildProcess then emits 'error' as child_process.spawn does for a command it cannot start.
import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process'
import type { Readable } from 'node:stream'
import { errnoName } from '../errors'
import { execHelperPath } from './binding'
import { toError } from './errors'
import { handleOf, type NsRef } from './handles'

/** The stdio array with one more pipe at the end (the helper's status pipe), and its fd number. */
function withStatusPipe(stdio: StdioOptions | undefined): { stdio: StdioOptions; fd: number } {
  const base = stdio === undefined ? 'pipe' : stdio
  const list = typeof base === 'string' ? [base, base, base] : [...base]
  while (list.length < 3) list.push(undefined)
  return { stdio: [...list, 'pipe'], fd: list.length }
}

/** The error child_process.spawn gives for a command it cannot start ('spawn CMD ENOENT'). */
function spawnError(errno: number, command: string, args: readonly string[]): NodeJS.ErrnoException {
  const code = errnoName(errno)
  const e = new Error(`spawn ${command} ${code}`) as NodeJS.ErrnoException & { spawnargs?: string[] }
  e.errno = -errno
  e.code = code
  e.syscall = `spawn ${command}`
  e.path = command
  e.spawnargs = [...args]
  return e
}

/** `ip netns exec NAME COMMAND ARGS...` as an ordinary ChildProcess. */
export function spawnIn(ns: NsRef, command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const fd = handleOf(ns).fd
  const { stdio, fd: statusFd } = withStatusPipe(options.stdio)
  // The helper opens our own fd through /proc, so it enters exactly this namespace.
  const helperArgs = [`/proc/${process.pid}/fd/${fd}`, '--status-fd', String(statusFd), ...(ns.name ? ['--name', ns.name] : []), '--', command, ...args]
  const child = spawn(execHelperPath(), helperArgs, { ...options, stdio })
  const status = child.stdio[statusFd] as Readable | null | undefined
  if (!status) return child

  // Like a command child_process.spawn cannot start: 'error', no 'exit', then 'close' with the
  // negative errno. 'exit' and 'close' are held back until the status pipe has told whether the
  // command started (Node may see the pipe close before our listener does).
  const emit = child.emit.bind(child) as (event: string | symbol, ...a: unknown[]) => boolean
  let settled = false
  let failed: number | undefined
  let heldExit: unknown[] | undefined
  let heldClose: unknown[] | undefined
  child.emit = ((event: string | symbol, ...a: unknown[]) => {
    if (event !== 'exit' && event !== 'close') return emit(event, ...a)
    if (!settled) {
      if (event === 'exit') heldExit = a
      else heldClose = a
      return true
    }
    if (failed !== undefined) return event === 'close' ? emit('close', -failed, null) : false
    return emit(event, ...a)
  }) as typeof child.emit
  let report = ''
  status.setEncoding('utf8')
  status.on('data', (d: string) => {
    report += d
  })
  status.on('error', () => {})
  status.once('close', () => {
    settled = true
    const m = /^(\w+) (\d+)/.exec(report)
    if (m) {
      failed = Number(m[2])
      emit(
        'error',
        m[1] === 'exec' ? spawnError(failed, command, args) : toError({ errno: -failed, syscall: m[1] }, { object: String(ns), action: `enter ${String(ns)}` }),
      )
    }
    if (heldExit) child.emit('exit', ...heldExit)
    if (heldClose) child.emit('close', ...heldClose)
  })
  return child
}

/**
 * `capsh --caps=... -- -c COMMAND` without capsh: starts `command` in this namespace through the
 * nk-exec helper, which keeps only `caps` (names such as 'net_admin') in every capability set,
 * the bounding set included, before exec. For a detached process (the companion), pass
 * `detached: true` and stdio without pipes.
 */
export function spawnWithCapabilities(caps: readonly string[], command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn(execHelperPath(), ['-', '--caps', caps.join(','), '--', command, ...args], options)
}
