// A sandbox topology for NAT tests, and traffic witnesses (socat servers that report the peer's
// address, and clients), all inside throwaway namespaces.
//
//   out (plays a remote machine)        host (the sandbox host)              containers
//   eth0 10.200.0.2/24 ──── veth ──── wan 10.200.0.1/24
//                                      br0 172.18.0.1/16 ── veth ── eth0 172.18.0.10/16 (c1)
//                                                        ── veth ── eth0 172.18.0.11/16 (c2)
import type { ChildProcess } from 'node:child_process'
import { Bridge, VethPair, type Namespace } from '../lib'
import { Sandbox, sh } from './helpers'
import { ipFromBytes, ipToBytes } from '../lib/ipam/ip'

export interface Topology {
  host: Namespace
  out: Namespace
  c1: Namespace
  c2: Namespace
  br: Bridge
}

export const HOST_WAN = '10.200.0.1'
export const OUT_IP = '10.200.0.2'
export const GW = '172.18.0.1'
export const C1 = '172.18.0.10'
export const C2 = '172.18.0.11'

/** Attaches a container namespace to `br` with `ip`/`prefix` and a default route via `gw`. */
export async function attach(host: Namespace, br: Bridge, c: Namespace, hostIf: string, ip: string, prefix: number, gw: string): Promise<void> {
  const v = await VethPair.create({ name: hostIf, namespace: host, master: br, up: true, peer: { name: 'eth0', namespace: c, up: true } })
  await v.peer.addAddress(`${ip}/${prefix}`, { nodad: true })
  await c.routes.add({ to: 'default', via: gw })
}

export async function topology(sb: Sandbox): Promise<Topology> {
  const [host, out, c1, c2] = await Promise.all([sb.ns(), sb.ns(), sb.ns(), sb.ns()])
  // Bridged frames skip netfilter here (br_netfilter is loaded on this kernel and on by default in
  // every namespace): nothing in netns-kit may depend on it.
  for (const k of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables']) {
    await host.sysctl.set(`net.bridge.${k}`, 0).catch((e: { code?: string }) => {
      if (e.code !== 'ENOENT') throw e
    })
  }
  const br = await Bridge.create({ name: 'br0', namespace: host, up: true })
  await br.addAddress(`${GW}/16`)
  const wan = await VethPair.create({ name: 'wan', namespace: host, up: true, peer: { name: 'eth0', namespace: out, up: true } })
  await wan.host.addAddress(`${HOST_WAN}/24`)
  await wan.peer.addAddress(`${OUT_IP}/24`)
  await attach(host, br, c1, 'veth-c1', C1, 16, GW)
  await attach(host, br, c2, 'veth-c2', C2, 16, GW)
  return { host, out, c1, c2, br }
}

/**
 * Waits until no IPv6 address in the namespaces is tentative (duplicate address detection runs
 * for about a second on new links' link-local addresses, and neighbour discovery through them
 * fails meanwhile: moby#18871).
 */
export async function settleIpv6(...namespaces: Namespace[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const all = await Promise.all(namespaces.map((ns) => ns.addresses()))
    if (!all.flat().some((a) => a.family === 6 && a.tentative)) return
    await new Promise((res) => setTimeout(res, 50))
  }
  throw new Error('IPv6 addresses stayed tentative for 5 s')
}

/** Servers started by a test, stopped by stopAll() in afterEach. */
const running = new Set<ChildProcess>()

export async function stopAll(): Promise<void> {
  for (const p of running) p.kill('SIGKILL')
  running.clear()
}

/**
 * A server inside `ns` that answers every connection (or datagram) with the address of its peer
 * and a tag, so a client learns who answered and which source address the server saw.
 */
export async function serve(ns: Namespace, proto: 'tcp' | 'udp', port: number, tag: string, bind?: string): Promise<void> {
  // Both families unless bound to one address (an IPv6 socket that also takes IPv4).
  const v4 = bind !== undefined && !bind.includes(':')
  const opt = bind ? `,bind=${bind.includes(':') ? `[${bind}]` : bind}` : ',ipv6only=0'
  const listen = proto === 'tcp' ? `TCP${v4 ? '4' : '6'}-LISTEN:${port},fork,reuseaddr${opt}` : `UDP${v4 ? '4' : '6'}-RECVFROM:${port},fork,reuseaddr${opt}`
  const p = ns.spawn('socat', [listen, `SYSTEM:echo ${tag} $SOCAT_PEERADDR`], { stdio: 'ignore' })
  running.add(p)
  p.on('exit', () => running.delete(p))
  // Wait until it listens (ss inside the namespace).
  for (let i = 0; i < 50; i++) {
    const r = await sh('ip', ['netns', 'exec', ns.name!, 'ss', '-Hln', proto === 'tcp' ? '-t' : '-u', `sport = :${port}`], { allowFail: true })
    if (r.stdout.trim()) return
    await new Promise((res) => setTimeout(res, 20))
  }
  throw new Error(`server on ${proto}/${port} in ${ns.name} did not start`)
}

/**
 * One request from `ns` to addr:port; the server's answer ("TAG PEERADDR"), or null if nothing
 * answered. A datagram (or its answer) can be lost on a loaded machine: UDP tries three times.
 */
export async function request(ns: Namespace, proto: 'tcp' | 'udp', addr: string, port: number, opts: { source?: string } = {}): Promise<string | null> {
  for (let i = 0; i < (proto === 'udp' ? 3 : 1); i++) {
    const r = await requestOnce(ns, proto, addr, port, opts)
    if (r !== null) return r
  }
  return null
}

async function requestOnce(ns: Namespace, proto: 'tcp' | 'udp', addr: string, port: number, opts: { source?: string } = {}): Promise<string | null> {
  const v6 = addr.includes(':')
  const host = v6 ? `[${addr}]` : addr
  const bind = opts.source ? `,bind=${opts.source.includes(':') ? `[${opts.source}]` : opts.source}` : ''
  const target = proto === 'tcp' ? `TCP${v6 ? '6' : '4'}:${host}:${port},connect-timeout=2${bind}` : `UDP${v6 ? '6' : '4'}:${host}:${port}${bind}`
  const p = ns.spawn('socat', ['-T', proto === 'udp' ? '2' : '1.5', '-', target], { stdio: ['pipe', 'pipe', 'ignore'] })
  let out = ''
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  if (proto === 'udp') p.stdin!.write('ping\n')
  else p.stdin!.end()
  const timer = setTimeout(() => p.kill('SIGKILL'), 5000)
  await new Promise<void>((res) => p.on('exit', () => res()))
  clearTimeout(timer)
  const line = out.trim().split('\n')[0]
  return line ? normalizePeer(line) : null
}

/** "tag [0000:...:ffff:0ac8:0001]" (socat's IPv6 socket) -> "tag 10.200.0.1"; IPv6 compressed, in brackets. */
function normalizePeer(line: string): string {
  return line.replace(/\[([0-9a-fA-F:.]+)\]/g, (_m, a: string) => {
    const b = ipToBytes(a)
    const mapped = b.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]))
    return mapped ? ipFromBytes(b.subarray(12)) : `[${ipFromBytes(b)}]`
  })
}

/** `nft -j list ruleset` inside the namespace. */
export async function nftRuleset(ns: Namespace): Promise<any[]> {
  const { stdout } = await sh('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset'])
  return (JSON.parse(stdout) as { nftables: any[] }).nftables
}

/** `nft list ruleset` text inside the namespace. */
export async function nftText(ns: Namespace, ...what: string[]): Promise<string> {
  const { stdout } = await sh('ip', ['netns', 'exec', ns.name!, 'nft', ...(what.length ? what : ['list', 'ruleset'])])
  return stdout
}

export async function nftApply(ns: Namespace, script: string): Promise<void> {
  const p = ns.spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
  let err = ''
  p.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  p.stdin!.end(script)
  const code = await new Promise<number | null>((res) => p.on('exit', (c) => res(c)))
  if (code !== 0) throw new Error(`nft -f failed: ${err}`)
}

/** A UDP receiver inside `ns` on `port` (bound to `bind`): what it received so far, one datagram's text each. */
export async function receiveUdp(ns: Namespace, port: number, bind: string): Promise<{ got: () => string[]; stop: () => void }> {
  const v6 = bind.includes(':')
  const p = ns.spawn('socat', ['-u', `UDP${v6 ? '6' : '4'}-RECV:${port},bind=${v6 ? `[${bind}]` : bind}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'ignore'] })
  running.add(p)
  p.on('exit', () => running.delete(p))
  let out = ''
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  for (let i = 0; i < 50; i++) {
    const r = await sh('ip', ['netns', 'exec', ns.name!, 'ss', '-Hlnu', `sport = :${port}`], { allowFail: true })
    if (r.stdout.trim()) break
    await new Promise((res) => setTimeout(res, 20))
  }
  return { got: () => out.split('\n').filter(Boolean), stop: () => p.kill('SIGKILL') }
}

/** Sends one datagram `text` from `ns` to addr:port, from the source address `source` (one the sender holds). */
export async function sendUdp(ns: Namespace, addr: string, port: number, text: string, source?: string): Promise<void> {
  const v6 = addr.includes(':')
  const bind = source ? `,bind=${source.includes(':') ? `[${source}]` : source}` : ''
  const p = ns.spawn('socat', ['-u', '-', `UDP${v6 ? '6' : '4'}-SENDTO:${v6 ? `[${addr}]` : addr}:${port}${bind}`], { stdio: ['pipe', 'ignore', 'ignore'] })
  p.stdin!.end(`${text}\n`)
  await new Promise<void>((res) => p.on('exit', () => res()))
}

/** Sends a hand-made frame from inside `ns` (test/fixtures/frames.py: arp, na, ra). */
export async function sendFrame(ns: Namespace, ...args: string[]): Promise<void> {
  const p = ns.spawn('python3', [`${__dirname}/fixtures/frames.py`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  p.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const code = await new Promise<number | null>((res) => p.on('exit', (c) => res(c)))
  if (code !== 0) throw new Error(`frames.py ${args.join(' ')} failed: ${err}`)
}
