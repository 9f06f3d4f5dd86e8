// Shared test helpers: throwaway namespaces, independent witnesses (ip -j, ping, ...).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { Namespace } from '../lib'

const exec = promisify(execFile)

/** A short random name such as nk-3fa9c1 (fits in an interface name too). */
export function uniqueName(prefix = 'nk'): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`
}

/** Runs a witness command; rejects with its stderr on failure. */
export async function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 })
    return { stdout: r.stdout, stderr: r.stderr, code: 0 }
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number }
    if (opts.allowFail) return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr ?? e}`)
  }
}

/** `ip -j [-d] -n NS ARGS...` parsed. */
export async function ipj(ns: Namespace | string, ...args: string[]): Promise<any[]> {
  const name = typeof ns === 'string' ? ns : ns.name!
  const { stdout } = await sh('ip', ['-j', '-d', '-n', name, ...args])
  return stdout.trim() ? JSON.parse(stdout) : []
}

/** Runs a command inside `ns` (ns.spawn); resolves with its output (stdout and stderr) and exit code. */
export function runIn(ns: Namespace, cmd: string, args: string[]): Promise<{ out: string; code: number | null }> {
  const p = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout!.on('data', (d) => {
    out += d
  })
  p.stderr!.on('data', (d) => {
    out += d
  })
  return new Promise((resolve) => p.on('close', (code) => resolve({ out, code })))
}

/** One ping from inside `ns` to `addr` (an address we assigned in a namespace we made). */
export async function ping(ns: Namespace, addr: string, count = 1): Promise<boolean> {
  const args = addr.includes(':') ? ['-6'] : []
  const p = ns.spawn('ping', [...args, '-c', String(count), '-W', '2', '-i', '0.2', addr], { stdio: 'ignore' })
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)))
  return code === 0
}

/**
 * Throwaway namespaces for one test: `sandbox.ns()` makes one, `sandbox.cleanup()` (call it
 * in afterEach) deletes every one, even if the test failed half-way.
 */
export class Sandbox {
  readonly created: Namespace[] = []
  readonly names = new Set<string>()

  async ns(opts: { loopback?: boolean } = {}): Promise<Namespace> {
    const name = uniqueName()
    this.names.add(name)
    const ns = await Namespace.create(name, opts)
    this.created.push(ns)
    return ns
  }

  async cleanup(): Promise<void> {
    for (const ns of this.created.splice(0)) await ns.delete().catch(() => {})
    for (const name of this.names) await Namespace.deleteNamed(name).catch(() => {})
    this.names.clear()
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}
