// The CNI spec versions netns-kit-cni speaks, and what each verb needs.
import { CNI_ERR, CniError } from './errors'

/** Oldest first. 0.1.0/0.2.0 (the pre-0.3 result format) are not spoken. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const
export const LATEST_VERSION = '1.1.0'

function parts(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v)
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined
}

/** -1, 0, 1 as a < b, a = b, a > b (semantic versions without pre-release parts). */
export function compareVersions(a: string, b: string): number {
  const x = parts(a)
  const y = parts(b)
  if (!x || !y) throw new CniError(CNI_ERR.DECODING_FAILURE, `'${!x ? a : b}' is not a version like '1.1.0'`)
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
  return 0
}

/** 1.0.0 and later: no `version` in ips, CHECK/DEL with prevResult, no non-list configurations. */
export function isV1(v: string): boolean {
  return compareVersions(v, '1.0.0') >= 0
}

/** Refuses a configuration version netns-kit-cni does not speak (code 1). */
export function checkSupported(v: string): string {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    compareVersions(v, '0.0.0')
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, 'incompatible CNI versions', `config is "${v}", plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`)
  }
  return v
}

/** The first spec version with each verb. */
const SINCE: Record<string, string> = { ADD: '0.3.0', DEL: '0.3.0', CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0', VERSION: '0.3.0' }

/** Refuses a verb the configuration's version does not have (code 1, as libcni's skel does). */
export function checkVerbAllowed(command: string, v: string): void {
  const since = SINCE[command]
  if (since && compareVersions(v, since) < 0)
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `config version does not allow ${command}`, `${command} needs ${since} or later; config is "${v}"`)
}
