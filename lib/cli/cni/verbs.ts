// The CNI verbs: each takes the parsed environment and configuration and returns what goes on
// stdout (or throws a CniError). They know the protocol; attachments.ts knows the library.
import { attach, collect, detach, inspect, status } from './attachments'
import { CNI_ERR, CniError } from './errors'
import { formatResult, type CniResult } from './result'
import { checkVerbAllowed } from './version'
import type { CniEnv } from './env'
import type { NetConf } from './config'

const key = (env: CniEnv) => ({ containerId: env.containerId, ifname: env.ifname, netns: env.netns, args: env.args })

/** ADD: attach, and the result in the configuration's version (chained after prevResult if any). */
export async function add(env: CniEnv, conf: NetConf): Promise<CniResult> {
  const attached = await attach(conf, key(env))
  return formatResult(conf.cniVersion, attached, conf.prevResult)
}

/** DEL: best effort, success when already gone or repeated; no output. */
export async function del(env: CniEnv, conf: NetConf): Promise<void> {
  await detach(conf, key(env))
}

/** CHECK (0.4.0+): needs prevResult; any difference is an error. No output on success. */
export async function check(env: CniEnv, conf: NetConf): Promise<void> {
  checkVerbAllowed('CHECK', conf.cniVersion)
  if (!conf.prevResult) throw new CniError(CNI_ERR.INVALID_CONFIG, 'required prevResult missing')
  const problems = await inspect(conf, key(env))
  if (problems.length) throw new CniError(CNI_ERR.INTERNAL, `CHECK failed: ${problems[0]}`, problems.join('; '))
}

/** STATUS (1.1.0+): no output when ready, code 50 when ADD cannot be served. */
export async function statusVerb(_env: CniEnv, conf: NetConf): Promise<void> {
  checkVerbAllowed('STATUS', conf.cniVersion)
  await status(conf)
}

/** GC (1.1.0+): removes attachments not in cni.dev/valid-attachments, and stale ones; errors reported after doing all it can. */
export async function gc(_env: CniEnv, conf: NetConf, log: (line: string) => void): Promise<void> {
  checkVerbAllowed('GC', conf.cniVersion)
  const { removed, errors } = await collect(conf)
  for (const r of removed) log(`gc: removed ${r}`)
  if (errors.length) throw new CniError(CNI_ERR.INTERNAL, `GC could not remove everything: ${errors[0]}`, errors.join('; '))
}
