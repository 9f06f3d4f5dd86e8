// Shared pieces of the benchmark: running tools, CPU time, throwaway namespaces that are removed on
// every exit path, the per-run topology (a "host" namespace with a bridge, an "outside" namespace),
// and the traffic checks that must pass before a tool's figures count.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import * as dnsPacket from 'dns-packet'
import { Bridge, Namespace, NatRule, VethPair, connectTcp, openTcpServer, openUdpSocket, type Network } from '../lib'
import { run } from '../lib/kernel/rtnl'

// --- processes ------------------------------------------------------------------------

export interface CmdResult {
  stdout: string
  stderr: string
  code: number
}

/** Runs a command (no shell); rejects with its stderr unless allowFail. */
export function cmd(file: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {}): Promise<CmdResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = [],
      err: Buffer[] = []
    p.stdout.on('data', (d: Buffer) => out.push(d))
    p.stderr.on('data', (d: Buffer) => err.push(d))
    p.on('error', reject)
    p.on('close', (code) => {
      const r = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? 1 }
      if (r.code !== 0 && !opts.allowFail) reject(new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`))
      else resolve(r)
    })
    p.stdin.on('error', () => {})
    p.stdin.end(opts.input ?? '')
  })
}

/** `nsenter --net=/run/netns/NS FILE ARGS`: runs a tool inside a namespace we made (no mount namespace, so `ip netns add` stays visible). */
export function inNs(ns: string, file: string, args: string[], opts: Parameters<typeof cmd>[2] = {}): Promise<CmdResult> {
  return cmd('nsenter', [`--net=/run/netns/${ns}`, '--', file, ...args], opts)
}

// --- CPU time -------------------------------------------------------------------------

const CLK_TCK = 100 // sysconf(_SC_CLK_TCK) on Linux

/** CPU seconds of this process (every thread, the addon's included) and of its waited-for children. */
export function cpuSeconds(): { self: number; children: number } {
  const u = process.cpuUsage()
  // /proc/self/stat fields 16 and 17 (cutime, cstime): children that were waited for (libuv waits for them).
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const children = (Number(f[13]) + Number(f[14])) / CLK_TCK
  return { self: (u.user + u.system) / 1e6, children }
}

// --- statistics -----------------------------------------------------------------------

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// --- a quiet machine ------------------------------------------------------------------

/**
 * The machine's busy and total CPU time so far (/proc/stat's first line, in ticks). Idle, iowait
 * and steal (the hypervisor running others: waiting does not make it go away) are not busy.
 */
function cpuTicks(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - f[3]! - f[4]! - f[7]!, total }
}

/**
 * Waits until the machine is quiet: two windows of 500 ms in a row with its CPUs at most
 * `maxBusy` busy (all cores together), at most `maxMs`. What a part leaves behind runs on after it
 * returned: the kernel tears deleted namespaces down in its own workers (cleanup_net: for 1,000
 * namespaces, seconds of CPU), the companion lingers; the next part measured meanwhile pays for
 * it, and more for its first containers than its last. (A quiet CPU is not proof that the kernel
 * is done: its RCU waits cost no CPU; they cost the next part nothing either.) Returns how long it
 * waited (ms) and whether it got quiet.
 */
export async function settle(maxMs = 60_000, maxBusy = 0.15): Promise<{ ms: number; quiet: boolean }> {
  const t0 = performance.now()
  let quietWindows = 0
  let prev = cpuTicks()
  while (performance.now() - t0 < maxMs) {
    await sleep(500)
    const now = cpuTicks()
    const busy = (now.busy - prev.busy) / Math.max(1, now.total - prev.total)
    prev = now
    quietWindows = busy <= maxBusy ? quietWindows + 1 : 0
    if (quietWindows >= 2) return { ms: performance.now() - t0, quiet: true }
  }
  return { ms: performance.now() - t0, quiet: false }
}

// --- throwaway namespaces -------------------------------------------------------------

/** Every namespace name this run may create: all are deleted on exit, whatever happened. */
export const RUN_ID = randomBytes(2).toString('hex')
const owned = new Set<string>()
const tmpDirs = new Set<string>()
const openHandles = new Set<Namespace>()

export function nsName(tag: string): string {
  const n = `nkb${RUN_ID}-${tag}`
  owned.add(n)
  return n
}

export function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `nkbench-${tag}-`))
  tmpDirs.add(d)
  return d
}

export function track(ns: Namespace): Namespace {
  openHandles.add(ns)
  return ns
}

/** Networks (and so their store records, bridges, rules and resolvers) removed on every exit path. */
const networks = new Set<Network>()
export function trackNetwork(net: Network): Network {
  networks.add(net)
  return net
}
export async function untrackNetwork(net: Network): Promise<void> {
  networks.delete(net)
  await net.remove({ force: true }).catch(() => {})
}

/** Deletes the given names (or every one this run registered); idempotent. */
export async function removeNamespaces(names: Iterable<string> = owned): Promise<void> {
  const list = [...names]
  for (const h of [...openHandles]) {
    if (h.name && list.includes(h.name)) {
      await h.close().catch(() => {})
      openHandles.delete(h)
    }
  }
  for (const n of list) {
    await Namespace.deleteNamed(n).catch(() => {})
    owned.delete(n)
  }
}

export async function cleanupAll(): Promise<void> {
  for (const net of [...networks]) await untrackNetwork(net)
  for (const h of openHandles) await h.close().catch(() => {})
  openHandles.clear()
  // Also anything of this run that a tool made under our prefix and we did not register.
  const prefix = `nkb${RUN_ID}-`
  const stray = (await Namespace.list().catch(() => [] as string[])).filter((n) => n.startsWith(prefix))
  await removeNamespaces([...owned, ...stray])
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true })
  tmpDirs.clear()
}

let cleaning: Promise<void> | undefined
export function installExitCleanup(): void {
  const bye = (code: number) => {
    cleaning ??= cleanupAll()
    void cleaning.finally(() => process.exit(code))
  }
  process.on('SIGINT', () => bye(130))
  process.on('SIGTERM', () => bye(143))
  process.on('SIGHUP', () => bye(129))
  process.on('uncaughtException', (e) => {
    console.error(e)
    bye(1)
  })
  process.on('unhandledRejection', (e) => {
    console.error(e)
    bye(1)
  })
}

// --- topology -------------------------------------------------------------------------

export const SUBNET = '10.200.0.0/16'
export const GATEWAY = '10.200.0.1'
export const PREFIX = 16
export const HOST_EXT_IP = '10.255.0.1'
export const EXT_IP = '10.255.0.2'
export const CONTAINER_PORT = 80

/** The address of container i (10.200.0.2 up). */
export function containerIp(i: number): string {
  const n = i + 2
  return `10.200.${n >> 8}.${n & 255}`
}
export const hostPort = (i: number) => 20000 + i

/** One throwaway "host" with a link to an "outside" namespace; tools add their bridge and containers. */
export interface Env {
  tag: string
  hostName: string
  host: Namespace
  extName: string
  ext: Namespace
  tmp: string
  /** Container namespace and host-side veth names (short: veth names fit in 15 bytes). */
  ctr(i: number): string
  veth(i: number): string
  /** The address each container got (tools with their own IPAM fill it). */
  ips: string[]
}

let envSeq = 0
export async function makeEnv(tag: string): Promise<Env> {
  const seq = (envSeq++).toString(36)
  const hostName = nsName(`${seq}h`)
  const extName = nsName(`${seq}x`)
  const host = track(await Namespace.create(hostName))
  const ext = track(await Namespace.create(extName))
  const pair = await VethPair.create({ name: 'ext0', namespace: host, up: true, peer: { name: 'eth0', namespace: ext, up: true } })
  await run([
    { ns: host, op: 'addr.add', index: pair.host.index, address: HOST_EXT_IP, prefixLength: 24, object: 'ext0' },
    { ns: ext, op: 'addr.add', index: pair.peer.index, address: EXT_IP, prefixLength: 24, object: 'eth0' },
  ])
  const prefix = `nkb${RUN_ID}-${seq}c`
  return {
    tag,
    hostName,
    host,
    extName,
    ext,
    tmp: tmpDir(tag),
    ips: [],
    ctr: (i) => {
      const n = `${prefix}${i}`
      owned.add(n)
      return n
    },
    veth: (i) => `v${RUN_ID}${seq}x${i}`.slice(0, 15),
  }
}

export async function destroyEnv(env: Env, n: number): Promise<void> {
  const names = [env.hostName, env.extName]
  for (let i = 0; i < n; i++) names.push(env.ctr(i))
  await removeNamespaces(names)
}

/** The links in the host namespace: after a namespace-deleting teardown, the kernel removes the host-side veths in the background. */
export async function waitHostClean(env: Env, baseline: number, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now()
  while (performance.now() - t0 < timeoutMs) {
    if ((await env.host.links()).length <= baseline) return performance.now() - t0
    await sleep(20)
  }
  return NaN
}

/** The bridge, its address, forwarding and one masquerade, the way tools (a), (b), (e) and (f) get them. */
export async function plainNetwork(env: Env, opts: { nat: boolean }): Promise<void> {
  const br = await Bridge.create({ name: 'br0', namespace: env.host, up: true })
  await br.addAddress(`${GATEWAY}/${PREFIX}`)
  await env.host.sysctl.set('net.ipv4.ip_forward', 1)
  if (opts.nat) {
    await inNs(env.hostName, 'nft', ['-f', '-'], {
      input: `table ip nkbench {
  chain prerouting {
    type nat hook prerouting priority dstnat;
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    ip saddr ${SUBNET} oifname != "br0" masquerade
  }
}\n`,
    })
  }
}

// --- traffic checks -------------------------------------------------------------------

export async function pingFrom(ns: string, addr: string): Promise<boolean> {
  const r = await cmd('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '2', addr], { allowFail: true })
  return r.code === 0
}

/**
 * A sample of containers pings the gateway, and one TCP connection from the outside namespace
 * to the host's address and the published port reaches a listener inside that container.
 */
export async function verify(env: Env, n: number, opts: { published?: boolean } = {}): Promise<void> {
  const sample = [...new Set([0, n >> 1, n - 1])]
  for (const i of sample) {
    if (!(await pingFrom(env.ctr(i), GATEWAY))) throw new Error(`container ${i} (${env.ctr(i)}) cannot ping the gateway ${GATEWAY}`)
  }
  if (opts.published === false) return
  const i = n - 1
  const ip = env.ips[i] ?? containerIp(i)
  const ctr = track(await Namespace.open(env.ctr(i)))
  const token = randomBytes(6).toString('hex')
  const server = await openTcpServer({ namespace: ctr, address: ip, port: CONTAINER_PORT }, (s) => s.end(token))
  try {
    // Up to 3 attempts of 3 s: on a loaded machine one connection timed out once (ip -batch at N=1000,
    // load average 10, cause not found); a wrong wiring fails all 3, a wrong listener at once.
    for (let attempt = 1; ; attempt++) {
      try {
        const sock = await connectTcp({ namespace: env.ext, host: HOST_EXT_IP, port: hostPort(i), timeout: 3000 })
        const got = await new Promise<string>((resolve, reject) => {
          let data = ''
          const t = setTimeout(() => {
            sock.destroy()
            reject(new Error('no answer'))
          }, 3000)
          sock.on('data', (d) => {
            data += d
          })
          sock.on('end', () => {
            clearTimeout(t)
            resolve(data)
          })
          sock.on('error', (e) => {
            clearTimeout(t)
            reject(e)
          })
        })
        if (got !== token) throw new Error(`published port ${hostPort(i)} answered '${got}', not the container's listener`)
        break
      } catch (e) {
        if (attempt >= 3 || /answered/.test((e as Error).message)) throw e
      }
    }
  } catch (e) {
    throw new Error(`outside -> ${HOST_EXT_IP}:${hostPort(i)} -> ${ip}:${CONTAINER_PORT}: ${(e as Error).message}`)
  } finally {
    await new Promise((r) => server.close(r))
    await ctr.close()
  }
}

/**
 * The embedded resolver answers: the last container asks 127.0.0.11 for the first one's name
 * (`c0`, as the user path names them) and must get the first container's address.
 */
export async function verifyDns(env: Env, n: number): Promise<void> {
  const ctr = track(await Namespace.open(env.ctr(n - 1)))
  const sock = await openUdpSocket({ namespace: ctr, address: '127.0.0.1' })
  try {
    const query = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'c0' }] })
    const answer = await new Promise<string[]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer from 127.0.0.11 in 3 s')), 3000)
      sock.on('message', (m) => {
        clearTimeout(t)
        const r = dnsPacket.decode(m)
        resolve((r.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)))
      })
      sock.send(query, 53, '127.0.0.11')
    })
    if (!answer.includes(env.ips[0]!)) throw new Error(`c0 resolved to [${answer.join(', ')}], not ${env.ips[0]}`)
  } catch (e) {
    throw new Error(`DNS in ${env.ctr(n - 1)}: ${(e as Error).message}`)
  } finally {
    sock.close()
    await ctr.close()
  }
}

export { NatRule }
