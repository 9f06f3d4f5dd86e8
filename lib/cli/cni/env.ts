// The protocol parameters a runtime passes in the environment (SPEC.md section 2, "Parameters"),
// checked as libcni's skel checks them: which are required for which verb, container ids and
// interface names by the spec's rules. Failures are code 4 and name the variables.
import { CNI_ERR, CniError } from './errors'

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION'
export const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION']

export interface CniEnv {
  command: CniCommand
  containerId: string
  /** Absent on DEL when the runtime no longer knows it, and for STATUS, GC, VERSION. */
  netns: string | undefined
  ifname: string
  /** CNI_ARGS as key/value pairs (deprecated by the spec, still sent by podman and kubelet). */
  args: Map<string, string>
  path: string[]
}

const REQUIRED: Record<string, CniCommand[]> = {
  CNI_CONTAINERID: ['ADD', 'CHECK', 'DEL'],
  CNI_NETNS: ['ADD', 'CHECK'],
  CNI_IFNAME: ['ADD', 'CHECK', 'DEL'],
  CNI_PATH: ['ADD', 'CHECK', 'DEL', 'GC', 'STATUS'],
}

/** SPEC.md: alphanumeric first, then alphanumerics, '_', '.', '-'. */
export function checkContainerId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'invalid characters in containerID', id)
  return id
}

/** SPEC.md: not empty, not '.' or '..', under 16 characters, no '/', ':' or white space. */
export function checkInterfaceName(name: string): string {
  if (!name || name === '.' || name === '..' || Buffer.byteLength(name) > 15 || /[/:\s\0]/.test(name)) {
    throw new CniError(
      CNI_ERR.INVALID_ENVIRONMENT,
      `invalid interface name '${name}'`,
      'CNI_IFNAME must be 1 to 15 bytes, not . or .., without /, : or white space',
    )
  }
  return name
}

/** "K=V;K=V" (IgnoreUnknown=1 is the runtime's note that unknown keys may be ignored: we ignore them anyway). */
export function parseCniArgs(s: string): Map<string, string> {
  const out = new Map<string, string>()
  if (!s) return out
  for (const pair of s.split(';')) {
    if (!pair) continue
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'invalid CNI_ARGS pair', `'${pair}' in CNI_ARGS is not KEY=VALUE`)
    out.set(pair.slice(0, eq), pair.slice(eq + 1))
  }
  return out
}

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND ?? ''
  if (!command) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'required env variables [CNI_COMMAND] missing')
  if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${command}`)
  const cmd = command as CniCommand
  const missing = Object.entries(REQUIRED)
    .filter(([k, cmds]) => cmds.includes(cmd) && !env[k])
    .map(([k]) => k)
  if (missing.length) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `required env variables [${missing.join(',')}] missing`)
  const attach = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK'
  return {
    command: cmd,
    containerId: attach ? checkContainerId(env.CNI_CONTAINERID!) : (env.CNI_CONTAINERID ?? ''),
    netns: env.CNI_NETNS || undefined,
    ifname: attach ? checkInterfaceName(env.CNI_IFNAME!) : (env.CNI_IFNAME ?? ''),
    args: attach ? parseCniArgs(env.CNI_ARGS ?? '') : new Map(),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  }
}
