// Shared by the Network examples: a sandbox "host" namespace with a WAN link to an "outside"
// namespace (playing a remote machine), an in-memory state store (nothing under /run/netns-kit),
// and TCP witnesses opened inside namespaces by netns-kit itself (no external tools).
//
//   outside  eth0 10.200.0.2/24 ──── veth ──── wan 10.200.0.1/24  host
import type * as net from 'node:net'
import * as dgram from 'node:dgram'
import * as dnsPacket from 'dns-packet'
import { MemoryStore, VethPair, connectTcp, openTcpServer, openUdpSocket, type Namespace } from '../lib'
import type { Throwaway } from './common'

export const HOST_WAN = '10.200.0.1'
export const OUT_IP = '10.200.0.2'

/** The host and outside namespaces, joined by a veth pair; and a store for this process only. */
export async function hostAndOutside(t: Throwaway): Promise<{ host: Namespace; outside: Namespace; store: MemoryStore }> {
  const host = await t.namespace('host')
  const outside = await t.namespace('outside')
  const wan = await VethPair.create({ name: 'wan', namespace: host, up: true, peer: { name: 'eth0', namespace: outside, up: true } })
  await wan.host.addAddress(`${HOST_WAN}/24`)
  await wan.peer.addAddress(`${OUT_IP}/24`)
  return { host, outside, store: new MemoryStore() }
}

const servers: net.Server[] = []

/** A TCP server inside `ns` that answers each connection with "TAG PEER-ADDRESS" (who it saw). */
export async function whoami(ns: Namespace, address: string, port: number, tag: string): Promise<void> {
  const server = await openTcpServer({ namespace: ns, address, port }, (c) => c.end(`${tag} ${c.remoteAddress?.replace(/^::ffff:/, '')}\n`))
  server.unref()
  servers.push(server)
}

export function closeServers(): void {
  for (const s of servers.splice(0)) s.close()
}

/** Connects from inside `ns` to host:port; the server's line, or null when nothing answered in time. */
export async function ask(ns: Namespace, host: string, port: number): Promise<string | null> {
  let sock: net.Socket
  try {
    sock = await connectTcp({ namespace: ns, host, port, timeout: 1500 })
  } catch {
    return null
  }
  return new Promise((resolve) => {
    let data = ''
    const timer = setTimeout(() => {
      sock.destroy()
      resolve(null)
    }, 1500)
    sock.on('data', (d) => {
      data += d
    })
    sock.on('error', () => {})
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(data.trim() || null)
    })
  })
}

/** One DNS query (A or AAAA) to 127.0.0.11 from inside `ns`, like `dig @127.0.0.11 NAME`: the addresses. */
export async function lookup(ns: Namespace, name: string, type: 'A' | 'AAAA' = 'A'): Promise<string[]> {
  const sock: dgram.Socket = await openUdpSocket({ namespace: ns, address: '127.0.0.1' })
  try {
    const id = Math.floor(Math.random() * 65535)
    const reply = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 2000)
      sock.on('message', (m) => {
        clearTimeout(timer)
        resolve(m)
      })
    })
    sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), 53, '127.0.0.11')
    const m = await reply
    if (!m) return []
    return dnsPacket
      .decode(m)
      .answers!.filter((a) => a.type === type)
      .map((a) => String((a as { data: unknown }).data))
  } finally {
    sock.close()
  }
}
