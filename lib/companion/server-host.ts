// The companion's start-up helpers (lib/companion/server.ts): its host namespace, its pid file's lock,
// whether another companion answers, and what it logs of its capabilities.
import * as fs from 'node:fs'
import * as net from 'node:net'
import { NetnsKitError } from '../errors'
import type { NsIdentity } from '../ipam/network-store'
import { handleOf } from '../kernel/handles'
import { tryLock } from '../kernel/sockets'
import { Namespace } from '../namespace'
import { type CompanionPaths } from './paths'
import { nsGone } from './teardown'

export function capabilities(): string {
  try {
    const s = fs.readFileSync('/proc/self/status', 'utf8')
    return ['CapEff', 'CapBnd'].map((k) => `${k}=${new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(s)?.[1] ?? '?'}`).join(' ')
  } catch {
    return '?'
  }
}

/** Whether the namespace `ns` names is gone, now or within `ms`. */
export async function goneWithin(ns: NsIdentity, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (nsGone(ns)) return true
    if (Date.now() >= end) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Opens the host namespace: its own when `hostId` is ours (a path that outlives any caller), else `path`, checked against `hostId`. */
export async function openHost(p: string, hostId: string | undefined): Promise<{ host: Namespace; hostId: NsIdentity }> {
  const self = await Namespace.open('/proc/self/ns/net')
  const sh = handleOf(self)
  if (hostId === undefined || hostId === `${sh.dev}:${sh.ino}` || p === '/proc/self/ns/net') {
    if (hostId !== undefined && hostId !== `${sh.dev}:${sh.ino}`) {
      await self.close()
      throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `this process's namespace is not the host namespace ${hostId}`)
    }
    return { host: self, hostId: { dev: String(sh.dev), ino: String(sh.ino), path: '/proc/self/ns/net' } }
  }
  await self.close()
  const host = await Namespace.open(p)
  const h = handleOf(host)
  if (`${h.dev}:${h.ino}` !== hostId) {
    await host.close()
    throw new NetnsKitError('ERR_NETNS_KIT_NO_NAMESPACE', `${p} is not the host namespace ${hostId} any more`)
  }
  return { host, hostId: { dev: String(h.dev), ino: String(h.ino), path: p } }
}

/**
 * The pid file, opened and flock(2)ed: -1 when another companion holds it. A starter that lost a
 * race to a companion on its way out waits for it (up to 3 s); the lock is only good when the
 * file locked is still the one at the path (the one leaving unlinks it).
 */
export async function lockPidFile(paths: CompanionPaths): Promise<number> {
  const deadline = Date.now() + 3000
  for (;;) {
    const fd = fs.openSync(paths.pid, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600)
    if (tryLock(fd, paths.pid)) {
      let same = false
      try {
        same = fs.fstatSync(fd).ino === fs.statSync(paths.pid).ino
      } catch {
        /* unlinked meanwhile */
      }
      if (same) return fd
    }
    fs.closeSync(fd)
    if (Date.now() > deadline || (await answers(paths.socket))) return -1
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Whether a companion answers on `socket`. */
export function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket)
    const done = (v: boolean) => {
      c.destroy()
      resolve(v)
    }
    c.setTimeout(500, () => done(false))
    c.on('error', () => done(false))
    c.on('connect', () => c.write(JSON.stringify({ id: 1, op: 'hello' }) + '\n'))
    c.on('data', () => done(true))
  })
}
