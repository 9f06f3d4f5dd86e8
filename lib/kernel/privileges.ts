// Which capabilities this process has, for PrivilegeError (lib/kernel/errors.ts and the checks
// made before a namespace is created).
import * as fs from 'node:fs'
import { PrivilegeError } from '../errors'

const CAPS: Record<string, number> = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21 }

let override: bigint | undefined

/** The effective capabilities of this process, from /proc/self/status. */
export function effectiveCapabilities(): bigint {
  if (override !== undefined) return override
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
    return m ? BigInt('0x' + m[1]) : 0n
  } catch {
    return 0n
  }
}

/** @internal Makes effectiveCapabilities() answer `mask` (undefined: the real ones again), for unit tests. */
export function useCapabilities(mask: bigint | undefined): void {
  override = mask
}

/** Names of the capabilities in `needed` that this process lacks. */
export function missingCapabilities(needed: string[]): string[] {
  const eff = effectiveCapabilities()
  return needed.filter((c) => ((eff >> BigInt(CAPS[c] ?? 0)) & 1n) === 0n)
}

/** Throws one clear PrivilegeError when any of `needed` is missing. */
export function requireCapabilities(needed: string[], action: string): void {
  const missing = missingCapabilities(needed)
  if (missing.length) throw new PrivilegeError(missing, action)
}
