// podman 4.3 (CNI backend) inside a HostSandbox, as ../../../shared/reference/podman-cni-recipe.md
// found it works: cgroups disabled, ulimits within what the sandbox may set, storage, run root,
// locks, events and tmp in the sandbox's work directory, the CNI config and plugin directories
// chosen by the test, containers from a busybox-static root filesystem (no image).
//
//   const pm = await PodmanSandbox.start({ conflists: { mynet: {...} }, pluginDirs: [dir] })
//   try { await pm.run({ name: 'c1', network: 'mynet', cmd: ['sleep', '600'] }) } finally { await pm.close() }
//
// close() always runs `podman rm -fa -t0` with the same configuration, then closes the sandbox.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BASE_ENV, HostSandbox, type ExecResult } from './sandbox'

export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni'

function which(cmd: string): string | undefined {
  for (const d of BASE_ENV.PATH!.split(':')) {
    const p = path.join(d, cmd)
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return p
    } catch {
      /* next */
    }
  }
  return undefined
}

/** Why podman tests cannot run here (one line), or undefined when they can. */
export function podmanUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root'
  if (!which('podman')) return 'podman is not installed (apt-get install podman)'
  if (!which('busybox') && !fs.existsSync('/bin/busybox')) return 'busybox-static is not installed'
  if (!fs.existsSync(path.join(REFERENCE_PLUGIN_DIR, 'bridge'))) return 'containernetworking-plugins is not installed (/usr/lib/cni)'
  for (const t of ['unshare', 'nsenter', 'crun']) if (!which(t)) return `${t} is not installed`
  return undefined
}

/** The caller's hard limit of open files (podman's default ulimit is refused in a sandbox). */
function hardNofile(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
    return out === 'unlimited' ? 1048576 : Number(out)
  } catch {
    return 1024
  }
}

function pidMax(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  } catch {
    return 32768
  }
}

/** A root filesystem without an image: busybox and its applets, installed from inside (chroot) so links point inside. */
export function makeBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www']) fs.mkdirSync(path.join(dir, d), { recursive: true })
  const busybox = which('busybox') ?? '/bin/busybox'
  fs.copyFileSync(busybox, path.join(dir, 'bin', 'busybox'))
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755)
  execFileSync('chroot', [dir, '/bin/busybox', '--install', '-s', '/bin'], { env: BASE_ENV })
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\n')
  fs.writeFileSync(path.join(dir, 'www', 'index.html'), 'hello from the container\n')
}

export interface PodmanSandboxOptions {
  /** Network name -> configuration list (written to the network_config_dir as NAME.conflist). */
  conflists: Record<string, object>
  /** Searched in order (containers.conf cni_plugin_dirs; podman ignores CNI_PATH). Default: the reference plugins. */
  pluginDirs?: string[]
  /** Extra environment for podman and, through conmon_env_vars, for the plugins on DEL. */
  env?: Record<string, string>
}

export interface RunOptions {
  name: string
  network: string
  /** `-p` values: 'HOST:CONTAINER[/proto]'. */
  publish?: string[]
  /** Detached (default) or in the foreground (the result carries the command's exit code). */
  detach?: boolean
  cmd: string[]
  extra?: string[]
}

export class PodmanSandbox {
  readonly sandbox: HostSandbox
  readonly work: string
  readonly rootfs: string
  readonly confDir: string
  readonly env: Record<string, string>
  #closed = false

  private constructor(sandbox: HostSandbox, env: Record<string, string>) {
    this.sandbox = sandbox
    this.work = sandbox.dir
    this.rootfs = path.join(sandbox.dir, 'rootfs')
    this.confDir = path.join(sandbox.dir, 'net.d')
    this.env = env
  }

  static async start(opts: PodmanSandboxOptions): Promise<PodmanSandbox> {
    const sandbox = await HostSandbox.start({ podman: true, prefix: 'nk-podman-' })
    try {
      const w = sandbox.dir
      const confDir = path.join(w, 'net.d')
      fs.mkdirSync(confDir)
      fs.mkdirSync(path.join(w, 'tmp'))
      makeBusyboxRootfs(path.join(w, 'rootfs'))
      for (const [name, list] of Object.entries(opts.conflists)) {
        fs.writeFileSync(path.join(confDir, `${name}.conflist`), JSON.stringify({ name, ...list }, null, 2))
      }
      const dirs = opts.pluginDirs ?? [REFERENCE_PLUGIN_DIR]
      const nofile = hardNofile()
      const nproc = Math.min(32768, pidMax())
      const extraEnv = opts.env ?? {}
      const q = (s: string) => JSON.stringify(s)
      fs.writeFileSync(
        path.join(w, 'containers.conf'),
        [
          '[containers]',
          'cgroups = "disabled"',
          `default_ulimits = [${q(`nofile=${nofile}:${nofile}`)}, ${q(`nproc=${nproc}:${nproc}`)}]`,
          // DEL comes from conmon's `podman container cleanup` with a minimal environment: pass ours on.
          `conmon_env_vars = [${Object.entries({ PATH: BASE_ENV.PATH, ...extraEnv })
            .map(([k, v]) => q(`${k}=${v}`))
            .join(', ')}]`,
          '[network]',
          'network_backend = "cni"',
          `cni_plugin_dirs = [${dirs.map(q).join(', ')}]`,
          `network_config_dir = ${q(confDir)}`,
          '[engine]',
          'cgroup_manager = "cgroupfs"',
          'events_logger = "file"',
          `events_logfile_path = ${q(path.join(w, 'events.log'))}`,
          `tmp_dir = ${q(path.join(w, 'tmp'))}`,
          'lock_type = "file"',
          `volume_path = ${q(path.join(w, 'volumes'))}`,
          'runtime = "crun"',
          '',
        ].join('\n'),
      )
      return new PodmanSandbox(sandbox, { ...BASE_ENV, ...extraEnv, CONTAINERS_CONF: path.join(w, 'containers.conf') })
    } catch (e) {
      await sandbox.close()
      throw e
    }
  }

  /** `podman --root --runroot --storage-driver vfs --network-backend cni ARGS` inside the sandbox. */
  podman(args: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const w = this.work
    return this.sandbox.exec(
      'podman',
      ['--root', path.join(w, 'root'), '--runroot', path.join(w, 'runroot'), '--storage-driver', 'vfs', '--network-backend', 'cni', ...args],
      { env: this.env, timeoutMs: opts.timeoutMs ?? 120000 },
    )
  }

  /** podman(), rejecting with podman's stderr on failure; resolves with stdout trimmed. */
  async podmanOk(args: string[]): Promise<string> {
    const r = await this.podman(args)
    if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`)
    return r.stdout.trim()
  }

  /** `podman run [-d] --name N --network NET [-p ...] --rootfs ROOTFS:O CMD...` (a copy-on-write layer per container). */
  run(o: RunOptions): Promise<ExecResult> {
    const args = ['run', ...(o.detach === false ? ['--rm'] : ['-d']), '--name', o.name, '--network', o.network]
    for (const p of o.publish ?? []) args.push('-p', p)
    args.push(...(o.extra ?? []), '--rootfs', `${this.rootfs}:O`, ...o.cmd)
    return this.podman(args)
  }

  /** The container's address on `network` as podman recorded it. */
  async ip(name: string, network: string): Promise<string> {
    return this.podmanOk(['inspect', name, '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`])
  }

  /** Removes every container (`podman rm -fa -t0`, same configuration), then the sandbox. Safe to call twice. */
  async close(): Promise<{ rm: ExecResult | undefined; leaked: string[] }> {
    if (this.#closed) return { rm: undefined, leaked: this.sandbox.leaked }
    this.#closed = true
    let rm: ExecResult | undefined
    try {
      rm = await this.podman(['rm', '-fa', '-t0'], { timeoutMs: 60000 })
    } finally {
      await this.sandbox.close()
    }
    return { rm, leaked: this.sandbox.leaked }
  }
}
