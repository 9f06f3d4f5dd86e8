// A private "host" for CNI tests: a network + mount namespace made with unshare(1), held open by
// one process, entered with nsenter(1) for every command. Inside it /run, /var/lib and /dev/shm
// are fresh tmpfs (so /run/netns, /run/netns-kit, /var/lib/cni and podman's state are its own),
// the machine's own network and files stay untouched. Works from the plain machine and from
// inside /work/tools/sandbox (namespaces nest).
//
// Teardown never trusts the test: close() kills every process still inside the sandbox (its
// network or mount namespace, or a network namespace named under its /run/netns), then the
// holder, then removes the work directory. `leaked` lists what it had to kill.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

/** A minimal environment, as a runtime (conmon) gives a plugin: no NODE_OPTIONS or test variables. */
export const BASE_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
  signal?: NodeJS.Signals | null
}

export interface ExecOptions {
  /** Written to stdin, which is then closed. */
  input?: string
  /** The whole environment of the command (default BASE_ENV). */
  env?: Record<string, string>
  /** Kill the command after this long (default 60 s); the result then has code -1. */
  timeoutMs?: number
  /** Working directory inside the sandbox (default the work directory). */
  cwd?: string
}

export interface SandboxOptions {
  /** Also prepare for podman/crun: unmount the cgroup v2 hierarchy of a hybrid layout (crun refuses it). */
  podman?: boolean
  /** Prefix of the work directory under the OS temp dir. */
  prefix?: string
}

const SETUP = `
set -e
if [ "$NK_PODMAN" = 1 ] && mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=755 tmpfs /var/lib
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /run/netns /run/lock
ip link set lo up
echo ready
exec sleep infinity
`

function nsInode(pid: number | string, kind: 'net' | 'mnt'): string | undefined {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${kind}`))?.[1]
  } catch {
    return undefined
  }
}

function waitExit(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => p.once('exit', () => resolve()))
}

export class HostSandbox {
  /** The holder process: its namespaces are the sandbox. */
  readonly pid: number
  /** A directory on the machine (visible inside too) for configuration, root filesystems, logs. */
  readonly dir: string
  readonly netnsInode: string
  readonly mntInode: string
  /** Processes close() found still inside and killed: `pid comm`. */
  readonly leaked: string[] = []
  readonly #holder: ChildProcess
  readonly #children = new Set<ChildProcess>()
  #closed = false

  private constructor(holder: ChildProcess, dir: string) {
    this.#holder = holder
    this.pid = holder.pid!
    this.dir = dir
    this.netnsInode = nsInode(this.pid, 'net')!
    this.mntInode = nsInode(this.pid, 'mnt')!
  }

  static async start(opts: SandboxOptions = {}): Promise<HostSandbox> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix ?? 'nk-cni-'))
    const holder = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'bash', '-c', SETUP], {
      env: { ...BASE_ENV, NK_PODMAN: opts.podman ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    holder.stderr!.on('data', (d) => {
      err += d
    })
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sandbox did not start in 10 s: ${err}`)), 10000)
        holder.stdout!.on('data', (d) => {
          out += d
          if (out.includes('ready\n')) {
            clearTimeout(timer)
            resolve()
          }
        })
        holder.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`sandbox setup failed (exit ${code}): ${err.trim()}`))
        })
        holder.once('error', (e) => {
          clearTimeout(timer)
          reject(e)
        })
      })
    } catch (e) {
      holder.kill('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
      throw e
    }
    holder.stdout!.resume()
    return new HostSandbox(holder, dir)
  }

  #args(cmd: string, args: string[], cwd?: string): string[] {
    return ['-t', String(this.pid), '-n', '-m', `--wd=${cwd ?? this.dir}`, '--', cmd, ...args]
  }

  /** Starts `cmd` inside the sandbox (its network and mount namespace); close() kills it if still running. */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions & { cwd?: string } = {}): ChildProcess {
    if (this.#closed) throw new Error('sandbox closed')
    const { cwd, ...rest } = opts
    const p = spawn('nsenter', this.#args(cmd, args, cwd), { env: BASE_ENV, ...rest })
    this.#children.add(p)
    p.once('exit', () => this.#children.delete(p))
    return p
  }

  /** Runs `cmd` inside the sandbox to completion. Never rejects for a non-zero exit: look at `code`. */
  exec(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    const p = this.spawn(cmd, args, { env: opts.env ?? BASE_ENV, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout!.on('data', (d) => {
      stdout += d
    })
    p.stderr!.on('data', (d) => {
      stderr += d
    })
    p.stdin!.on('error', () => {
      /* the command did not read its input */
    })
    p.stdin!.end(opts.input ?? '')
    return new Promise((resolve) => {
      const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60000)
      p.once('error', (e) => {
        clearTimeout(timer)
        resolve({ code: -1, stdout, stderr: `${stderr}${e.message}` })
      })
      p.once('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ code: code ?? -1, stdout, stderr, signal })
      })
    })
  }

  /** exec(), rejecting with the command's stderr when it fails. */
  async run(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts)
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`)
    return r.stdout
  }

  /** `sh -c SCRIPT` inside; rejects on failure. */
  sh(script: string, opts: ExecOptions = {}): Promise<string> {
    return this.run('sh', ['-c', script], opts)
  }

  /** `ip -j [-d] ARGS` inside, parsed. */
  async ipj(...args: string[]): Promise<any[]> {
    const out = await this.run('ip', ['-j', '-d', ...args])
    return out.trim() ? JSON.parse(out) : []
  }

  /**
   * A namespace outside the sandbox's host role (a client on its "LAN"): `ip netns add NAME`, a veth
   * `lan0` (host side, `hostIp`/24) to `eth0` inside (`ip`/24, default route via hostIp).
   */
  async outside(name = 'outside', hostIp = '192.0.2.1', ip = '192.0.2.2'): Promise<{ name: string; hostIp: string; ip: string }> {
    await this.sh(
      [
        `ip netns add ${name}`,
        `ip link add lan0 type veth peer name eth0 netns ${name}`,
        `ip addr add ${hostIp}/24 dev lan0`,
        'ip link set lan0 up',
        `ip -n ${name} link set lo up`,
        `ip -n ${name} addr add ${ip}/24 dev eth0`,
        `ip -n ${name} link set eth0 up`,
        `ip -n ${name} route add default via ${hostIp}`,
      ].join(' && '),
    )
    return { name, hostIp, ip }
  }

  /** One TCP request from inside the named namespace `from` (undefined: the sandbox's host role); resolves with the answer ('' when none). */
  async tcp(from: string | undefined, addr: string, port: number, send = 'GET / HTTP/1.0\r\n\r\n', timeoutS = 3): Promise<string> {
    const cmd = ['socat', `-T${timeoutS}`, '-', `TCP:${addr}:${port},connect-timeout=${timeoutS}`]
    const r = await this.exec(from ? 'ip' : cmd[0]!, from ? ['netns', 'exec', from, ...cmd] : cmd.slice(1), { input: send, timeoutMs: (timeoutS + 5) * 1000 })
    return r.code === 0 ? r.stdout : ''
  }

  /** One ping from inside the named namespace `from` (undefined: the host role). */
  async ping(from: string | undefined, addr: string): Promise<boolean> {
    const cmd = ['ping', '-c', '1', '-W', '2', addr]
    const r = await this.exec(from ? 'ip' : 'ping', from ? ['netns', 'exec', from, ...cmd] : cmd.slice(1))
    return r.code === 0
  }

  /** A path of the sandbox's own filesystem view (its /run, /var/lib), reachable from outside. */
  inside(p: string): string {
    return path.join(`/proc/${this.pid}/root`, p)
  }

  /** The inodes of the network namespaces bind-mounted under the sandbox's /run/netns. */
  namedNetnsInodes(): string[] {
    const dir = this.inside('/run/netns')
    let names: string[] = []
    try {
      names = fs.readdirSync(dir)
    } catch {
      return []
    }
    const out: string[] = []
    for (const n of names) {
      try {
        out.push(String(fs.statSync(path.join(dir, n)).ino))
      } catch {
        /* gone */
      }
    }
    return out
  }

  /** Processes other than the holder inside the sandbox: in its network or mount namespace, or a named netns of it. */
  processesInside(extraNetns: string[] = this.namedNetnsInodes()): { pid: number; comm: string }[] {
    const nets = new Set([this.netnsInode, ...extraNetns])
    const out: { pid: number; comm: string }[] = []
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e) || Number(e) === this.pid || Number(e) === process.pid) continue
      const net = nsInode(e, 'net')
      const mnt = nsInode(e, 'mnt')
      if ((net && nets.has(net)) || mnt === this.mntInode) {
        let comm = '?'
        try {
          comm = fs.readFileSync(`/proc/${e}/comm`, 'utf8').trim()
        } catch {
          /* gone */
        }
        out.push({ pid: Number(e), comm })
      }
    }
    return out
  }

  /**
   * Kills what is still running inside, then the holder (the namespaces go with it), and removes
   * the work directory. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const c of this.#children) c.kill('SIGKILL')
    await Promise.all([...this.#children].map(waitExit))
    const named = this.namedNetnsInodes()
    for (let round = 0; round < 5; round++) {
      const left = this.processesInside(named)
      if (!left.length) break
      for (const p of left) {
        if (round === 0) this.leaked.push(`${p.pid} ${p.comm}`)
        try {
          process.kill(p.pid, 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    this.#holder.kill('SIGKILL')
    await waitExit(this.#holder)
    for (let i = 0; i < 10; i++) {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true })
        break
      } catch {
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }

  /** True while some process still holds the sandbox's network namespace (after close(): a leak). */
  netnsStillUsed(): boolean {
    for (const e of fs.readdirSync('/proc')) {
      if (/^\d+$/.test(e) && Number(e) !== process.pid && nsInode(e, 'net') === this.netnsInode) return true
    }
    return false
  }
}
