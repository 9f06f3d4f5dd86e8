#!/usr/bin/env node
// The companion process's entry (dist/companion/main.js):
//
//   netns-kit-companion [--store PATH] [--host PATH] [--host-id DEV:INO] [--run-dir DIR]
//                       [--resolv-conf PATH] [--idle-ms N] [--foreground]
//
// Started detached by the library (lib/companion/client.ts) when a network needs it, or run by a
// service manager with --foreground (no idle exit; logs on stderr): see the README.
import { parseArgs } from 'node:util'
import { DEFAULT_DB_PATH } from '../ipam/sqlite-store'
import { CompanionServer } from './server'

const USAGE = 'usage: netns-kit-companion [--store PATH] [--host PATH] [--host-id DEV:INO] [--run-dir DIR] [--resolv-conf PATH] [--idle-ms N] [--foreground]'

async function main(): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      options: {
        store: { type: 'string', default: DEFAULT_DB_PATH },
        host: { type: 'string', default: '/proc/self/ns/net' },
        'host-id': { type: 'string' },
        'run-dir': { type: 'string' },
        'resolv-conf': { type: 'string' },
        'idle-ms': { type: 'string' },
        foreground: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const idleMs = values['idle-ms'] === undefined ? undefined : Number(values['idle-ms'])
  if (idleMs !== undefined && !(Number.isInteger(idleMs) && idleMs >= 0)) {
    process.stderr.write(`--idle-ms must be a number of milliseconds\n${USAGE}\n`)
    return 2
  }
  const server = await CompanionServer.start({
    store: values.store!,
    host: values.host!,
    hostId: values['host-id'],
    runDir: values['run-dir'],
    resolvConf: values['resolv-conf'],
    idleMs,
    foreground: values.foreground,
  })
  if (!server) {
    // Another companion holds the lock: it serves this host namespace and store.
    return 0
  }
  const stop = (sig: string) => void server.stop(`signal ${sig}`)
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGHUP', () => {
    /* detached from any terminal: nothing to reload (resolv.conf is followed) */
  })
  await server.exited
  return 0
}

process.on('uncaughtException', (e) => {
  process.stderr.write(`${new Date().toISOString()} companion[${process.pid}] fatal: ${e.stack ?? e}\n`)
  process.exit(1)
})

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${new Date().toISOString()} companion[${process.pid}] cannot start: ${(e as Error)?.stack ?? String(e)}\n`)
    process.exit(1)
  },
)
