// CNI errors: the spec's error object (SPEC.md section 5, "Error") and its well-known codes, and
// the one mapping of netns-kit's errors onto them.
import { NetlinkError, NetnsKitError } from '../../errors'

/** Well-known codes (SPEC.md "Error"; 8 and 999 as libcni's types package spells them). */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODING_FAILURE: 6,
  INVALID_CONFIG: 7,
  INVALID_NETNS: 8,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  LIMITED_CONNECTIVITY: 51,
  INTERNAL: 999,
} as const

/** A failure to report to the runtime: `code`, a short `msg`, optional `details`. */
export class CniError extends Error {
  readonly code: number
  readonly details: string | undefined
  constructor(code: number, msg: string, details?: string) {
    super(msg)
    this.name = 'CniError'
    this.code = code
    this.details = details
  }
}

/** The error object printed on stdout (SPEC.md section 5). */
export function errorObject(e: CniError, cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
  return { cniVersion, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) }
}

/**
 * Any failure as a CniError. Bad input (TypeError/RangeError with Node's ERR_INVALID_ARG_*
 * codes) is an invalid configuration; a store that was busy or kept changing is worth retrying; the rest
 * (kernel refusals, library states, missing privileges) is internal, with the library's code
 * and message kept in msg and details.
 */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e
  const err = e as { code?: unknown; message?: unknown }
  const code = typeof err?.code === 'string' ? err.code : undefined
  const message = typeof err?.message === 'string' ? err.message : String(e)
  if ((e instanceof TypeError || e instanceof RangeError) && (code?.startsWith('ERR_INVALID_ARG') || code === 'ERR_OUT_OF_RANGE')) {
    return new CniError(CNI_ERR.INVALID_CONFIG, message)
  }
  // The store was busy or kept changing (other processes' transactions): worth retrying.
  if (code === 'ERR_NETNS_KIT_STORE_CONFLICT' || code === 'ERR_NETNS_KIT_STORE_BUSY' || /^SQLITE_(BUSY|LOCKED)/.test(code ?? '')) {
    return new CniError(CNI_ERR.TRY_AGAIN_LATER, message, code)
  }
  if (e instanceof NetlinkError || e instanceof NetnsKitError) return new CniError(CNI_ERR.INTERNAL, message, code)
  return new CniError(CNI_ERR.INTERNAL, message)
}
