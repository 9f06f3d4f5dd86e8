// netns-kit-cni's dispatcher: environment and stdin in, stdout text and exit status out. No
// process globals here, so tests can call it directly.
import { parseEnv } from './env'
import { CNI_ERR, CniError, errorObject, toCniError } from './errors'
import { LATEST_VERSION, SUPPORTED_VERSIONS } from './version'

export interface CniOutcome {
  stdout: string
  exitCode: number
  stderr: string
}

/** The version to stamp on an error: the configuration's when it can be read, else the latest. */
function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion
    return typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v) ? v : LATEST_VERSION
  } catch {
    return LATEST_VERSION
  }
}

/** VERSION: the versions spoken; cniVersion echoes the request's when it is a version string. */
export function version(requestVersion: unknown): { cniVersion: string; supportedVersions: string[] } {
  const v = typeof requestVersion === 'string' && /^\d+\.\d+\.\d+$/.test(requestVersion) ? requestVersion : LATEST_VERSION
  return { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] }
}

export async function runCni(env: NodeJS.ProcessEnv, stdin: string): Promise<CniOutcome> {
  const logs: string[] = []
  const log = (line: string) => {
    logs.push(line)
  }
  try {
    const e = parseEnv(env)
    if (e.command === 'VERSION') {
      let requested: unknown
      try {
        requested = (JSON.parse(stdin || '{}') as { cniVersion?: unknown }).cniVersion
      } catch {
        /* an empty or odd request still gets the list */
      }
      return { stdout: `${JSON.stringify(version(requested))}\n`, exitCode: 0, stderr: '' }
    }
    if (!stdin.trim()) throw new CniError(CNI_ERR.IO_FAILURE, 'no network configuration on stdin')
    // The library is loaded only past VERSION: runtimes ask every plugin its VERSION on every
    // command (podman: each `podman run`, `ps`, `rm`), which should cost a process start only.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseConfig } = require('./config') as typeof import('./config')
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { add, check, del, gc, statusVerb } = require('./verbs') as typeof import('./verbs')
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { withoutCompanion } = require('../../network/companion') as typeof import('../../network/companion')
    const conf = parseConfig(stdin, e.command)
    // No companion process: the runtime reserves the published ports itself (podman binds them
    // after ADD; a reservation of ours makes it fail with EADDRINUSE), as with the portmap plugin,
    // and a CNI network has no embedded DNS; a plugin call leaves no process behind.
    const out = await withoutCompanion(async (): Promise<unknown> => {
      switch (e.command) {
        case 'ADD':
          return add(e, conf)
        case 'DEL':
          await del(e, conf)
          break
        case 'CHECK':
          await check(e, conf)
          break
        case 'STATUS':
          await statusVerb(e, conf)
          break
        case 'GC':
          await gc(e, conf, log)
          break
      }
      return undefined
    })
    return { stdout: out === undefined ? '' : `${JSON.stringify(out)}\n`, exitCode: 0, stderr: logs.map((l) => `${l}\n`).join('') }
  } catch (err) {
    const ce = toCniError(err)
    const obj = errorObject(ce, versionOf(stdin))
    return {
      stdout: `${JSON.stringify(obj)}\n`,
      exitCode: 1,
      stderr: [...logs, `netns-kit-cni: ${ce.message}${ce.details ? ` (${ce.details})` : ''}`].map((l) => `${l}\n`).join(''),
    }
  }
}
