// A throwaway etcd for tests and examples: one member on 127.0.0.1 (loopback only), random free
// client and peer ports, its data in a temporary folder; stopped with SIGTERM (then SIGKILL) and
// the folder removed afterwards. Needs the `etcd` binary (Debian package etcd-server).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A running etcd started by startEtcd(). */
export interface LocalEtcd {
  /** 'http://127.0.0.1:PORT': what Etcd3({ hosts }) and EtcdStore take. */
  readonly endpoint: string
  readonly dataDir: string
  readonly process: ChildProcess
  /** SIGTERM, then SIGKILL after 3 s; removes the data folder. Safe to call twice. */
  stop(): Promise<void>
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** GET /health answers {"health":"true"}. */
function healthy(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/health`, { timeout: 500 }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        body += c.toString()
      })
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('"true"')))
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => {
      req.destroy()
      resolve(false)
    })
    req.end()
  })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Starts etcd and waits until /health says so (at most `timeoutMs`); retries with new ports if they were taken. */
export async function startEtcd(opts: { timeoutMs?: number } = {}): Promise<LocalEtcd> {
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts.timeoutMs ?? 15000)
    } catch (e) {
      lastError = e
    }
  }
  throw lastError
}

async function startOnce(timeoutMs: number): Promise<LocalEtcd> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nk-etcd-'))
  const clientPort = await freePort()
  let peerPort = await freePort()
  while (peerPort === clientPort) peerPort = await freePort()
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const child = spawn(
    'etcd',
    [
      '--name',
      'nk',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `nk=${peer}`,
      '--initial-cluster-state',
      'new',
      '--log-level',
      'error',
      '--logger',
      'zap',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.length < 8192) stderr += c.toString()
  })
  let exited = false
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true
      resolve()
    }),
  )
  child.once('error', () => {
    exited = true
  })

  let stopped = false
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true
      if (!exited) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exit
        clearTimeout(timer)
      }
    }
    await rm(dataDir, { recursive: true, force: true })
  }

  const deadline = Date.now() + timeoutMs
  while (!(await healthy(endpoint))) {
    if (exited || Date.now() > deadline) {
      await stop()
      throw new Error(`etcd did not become healthy on ${endpoint}${exited ? ' (it exited)' : ''}: ${stderr.trim().slice(-2000)}`)
    }
    await sleep(50)
  }
  return { endpoint, dataDir, process: child, stop }
}
