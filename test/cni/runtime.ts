// A small CNI runtime for tests (the part of libcni a conformance test needs): runs a plugin
// executable the way a runtime does (CNI_* environment, the request configuration on stdin),
// runs a configuration list as a chain (prevResult, runtimeConfig from capabilities, DEL in
// reverse order, GC with cni.dev/valid-attachments), and parses what comes back against the CNI
// spec 1.1 (SPEC.md sections 2 and 5), listing every way the output strays from it.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BASE_ENV, type HostSandbox } from './sandbox'

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION'

export interface Attachment {
  containerId: string
  /** CNI_NETNS; absent (DEL) means the runtime does not know it any more. */
  netns?: string
  ifname: string
  /** CNI_ARGS ("K=V;K=V"). */
  args?: string
  /** Capability arguments offered by the runtime (portMappings, ips, mac, ...). */
  capabilityArgs?: Record<string, unknown>
}

export interface CniError {
  code: number
  msg: string
  details?: string
  cniVersion?: string
}

/** One plugin execution, as run and as parsed. */
export interface PluginRun {
  type: string
  command: CniCommand
  exitCode: number
  stdout: string
  stderr: string
  /** The request configuration sent on stdin. */
  request: Record<string, unknown>
  /** Parsed stdout (success). */
  result?: Record<string, any>
  error?: CniError
  /** Where the output strays from the spec (empty: conforms). */
  problems: string[]
}

/** The outcome of a configuration list (a chain of plugins) for one operation. */
export interface ChainOutcome {
  ok: boolean
  result?: Record<string, any>
  error?: CniError
  runs: PluginRun[]
  problems: string[]
}

const V1 = ['1.0.0', '1.1.0']
export const isV1 = (v: string): boolean => V1.includes(v) || /^1\./.test(v)

function isCidr(s: unknown): boolean {
  if (typeof s !== 'string') return false
  const m = /^(.+)\/(\d{1,3})$/.exec(s)
  return !!m && isIp(m[1]) && Number(m[2]) <= (m[1]!.includes(':') ? 128 : 32)
}

function isIp(s: unknown): boolean {
  if (typeof s !== 'string') return false
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((x) => Number(x) <= 255)
  return /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':')
}

/** What is wrong with an ADD result for `version` (SPEC.md section 5, "ADD Success"; 0.3.x/0.4.0 add `version` to ips). */
export function resultProblems(r: unknown, version: string): string[] {
  const p: string[] = []
  if (!r || typeof r !== 'object' || Array.isArray(r)) return ['result is not a JSON object']
  const o = r as Record<string, any>
  if (o.cniVersion !== version) p.push(`result cniVersion ${JSON.stringify(o.cniVersion)} is not the request's ${version}`)
  const ifs = o.interfaces
  if (ifs !== undefined && !Array.isArray(ifs)) p.push('interfaces is not an array')
  for (const [i, f] of (Array.isArray(ifs) ? ifs : []).entries()) {
    if (!f || typeof f.name !== 'string' || !f.name) p.push(`interfaces[${i}].name missing`)
    if (f?.mac !== undefined && (typeof f.mac !== 'string' || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(f.mac)))
      p.push(`interfaces[${i}].mac ${JSON.stringify(f.mac)} is not a MAC`)
    if (f?.mtu !== undefined && !(Number.isInteger(f.mtu) && f.mtu > 0)) p.push(`interfaces[${i}].mtu is not a positive integer`)
    if (f?.sandbox !== undefined && typeof f.sandbox !== 'string') p.push(`interfaces[${i}].sandbox is not a string`)
  }
  if (o.ips !== undefined && !Array.isArray(o.ips)) p.push('ips is not an array')
  for (const [i, a] of (Array.isArray(o.ips) ? o.ips : []).entries()) {
    if (!isCidr(a?.address)) p.push(`ips[${i}].address ${JSON.stringify(a?.address)} is not CIDR`)
    if (a?.gateway !== undefined && !isIp(a.gateway)) p.push(`ips[${i}].gateway ${JSON.stringify(a.gateway)} is not an address`)
    if (a?.interface !== undefined && !(Number.isInteger(a.interface) && a.interface >= 0 && a.interface < (ifs?.length ?? 0))) {
      p.push(`ips[${i}].interface ${a.interface} is not an index into interfaces`)
    }
    if (isV1(version) && a?.version !== undefined) p.push(`ips[${i}].version is not part of ${version} results`)
    if (!isV1(version) && a?.version !== (String(a?.address).includes(':') ? '6' : '4')) p.push(`ips[${i}].version must be "4" or "6" in ${version} results`)
  }
  if (o.routes !== undefined && !Array.isArray(o.routes)) p.push('routes is not an array')
  for (const [i, rt] of (Array.isArray(o.routes) ? o.routes : []).entries()) {
    if (!isCidr(rt?.dst)) p.push(`routes[${i}].dst ${JSON.stringify(rt?.dst)} is not CIDR`)
    if (rt?.gw !== undefined && !isIp(rt.gw)) p.push(`routes[${i}].gw is not an address`)
  }
  if (o.dns !== undefined && (typeof o.dns !== 'object' || Array.isArray(o.dns))) p.push('dns is not an object')
  for (const k of ['nameservers', 'search', 'options']) {
    if (o.dns?.[k] !== undefined && !(Array.isArray(o.dns[k]) && o.dns[k].every((x: unknown) => typeof x === 'string')))
      p.push(`dns.${k} is not a list of strings`)
  }
  const known = new Set(['cniVersion', 'interfaces', 'ips', 'routes', 'dns'])
  for (const k of Object.keys(o)) if (!known.has(k)) p.push(`unknown result key ${k}`)
  return p
}

/** Parses one execution's output per the spec. */
export function parseOutput(command: CniCommand, version: string, exitCode: number, stdout: string): Pick<PluginRun, 'result' | 'error' | 'problems'> {
  const problems: string[] = []
  let json: unknown
  const text = stdout.trim()
  if (text) {
    try {
      json = JSON.parse(text)
    } catch {
      problems.push(`stdout is not JSON: ${text.slice(0, 120)}`)
    }
  }
  if (exitCode !== 0) {
    const e = json as Partial<CniError> | undefined
    if (!e || typeof e !== 'object') {
      problems.push('failure without an error object on stdout')
      return { error: { code: -1, msg: text || '(no output)' }, problems }
    }
    if (!Number.isInteger(e.code)) problems.push('error.code is not an integer')
    if (typeof e.msg !== 'string' || !e.msg) problems.push('error.msg missing')
    if (e.details !== undefined && typeof e.details !== 'string') problems.push('error.details is not a string')
    if (e.cniVersion === undefined) problems.push('error has no cniVersion (spec 1.1 lists it)')
    return { error: e as CniError, problems }
  }
  if (command === 'ADD') {
    if (json === undefined) return { problems: [...problems, 'ADD succeeded without a result'] }
    return { result: json as Record<string, any>, problems: [...problems, ...resultProblems(json, version)] }
  }
  if (command === 'VERSION') {
    const v = json as { cniVersion?: unknown; supportedVersions?: unknown } | undefined
    if (!v || !Array.isArray(v.supportedVersions) || !v.supportedVersions.every((x) => typeof x === 'string'))
      problems.push('VERSION without supportedVersions')
    if (typeof v?.cniVersion !== 'string') problems.push('VERSION without cniVersion')
    return { result: v as Record<string, any>, problems }
  }
  // DEL, CHECK, STATUS, GC: no output on success.
  if (text) problems.push(`${command} succeeded with output on stdout`)
  return { problems }
}

/**
 * Runs plugins inside `sandbox` (the runtime's networking domain). Plugins are looked up by `type`
 * in `pluginDirs`, which also become CNI_PATH.
 */
export class CniRuntime {
  readonly sandbox: HostSandbox
  readonly pluginDirs: string[]
  readonly env: Record<string, string>
  /** Every execution, in order (for a test's failure message). */
  readonly log: PluginRun[] = []

  constructor(sandbox: HostSandbox, pluginDirs: string[], env: Record<string, string> = {}) {
    this.sandbox = sandbox
    this.pluginDirs = pluginDirs
    this.env = env
  }

  find(type: string): string {
    for (const d of this.pluginDirs) {
      const p = path.join(d, type)
      try {
        fs.accessSync(p, fs.constants.X_OK)
        return p
      } catch {
        /* next */
      }
    }
    throw new Error(`no plugin '${type}' in ${this.pluginDirs.join(':')}`)
  }

  /** One execution: `env` are the CNI_* variables (CNI_PATH added), `request` goes on stdin. */
  async exec(type: string, command: CniCommand, request: Record<string, unknown>, env: Record<string, string> = {}): Promise<PluginRun> {
    const r = await this.sandbox.exec(this.find(type), [], {
      input: JSON.stringify(request),
      env: { ...BASE_ENV, ...this.env, CNI_COMMAND: command, CNI_PATH: this.pluginDirs.join(':'), ...env },
    })
    const version = typeof request.cniVersion === 'string' ? request.cniVersion : ''
    const run: PluginRun = { type, command, exitCode: r.code, stdout: r.stdout, stderr: r.stderr, request, ...parseOutput(command, version, r.code, r.stdout) }
    this.log.push(run)
    return run
  }

  /** The request configuration of one plugin of `list` (SPEC.md section 3, "Deriving request configuration"). */
  static request(
    list: ConfList,
    plugin: Record<string, any>,
    opts: { capabilityArgs?: Record<string, unknown>; prevResult?: unknown; gc?: { containerID: string; ifname: string }[] } = {},
  ): Record<string, unknown> {
    const { capabilities, ...rest } = plugin
    const req: Record<string, unknown> = { ...rest, cniVersion: list.cniVersion, name: list.name }
    if (opts.gc) {
      req['cni.dev/valid-attachments'] = opts.gc
      return req
    }
    const rc: Record<string, unknown> = {}
    for (const [k, on] of Object.entries(capabilities ?? {})) {
      if (on && opts.capabilityArgs?.[k] !== undefined) rc[k] = opts.capabilityArgs[k]
    }
    if (Object.keys(rc).length) req.runtimeConfig = rc
    if (opts.prevResult !== undefined) req.prevResult = opts.prevResult
    return req
  }

  static attachmentEnv(a: Attachment): Record<string, string> {
    return {
      CNI_CONTAINERID: a.containerId,
      CNI_IFNAME: a.ifname,
      ...(a.netns !== undefined ? { CNI_NETNS: a.netns } : {}),
      ...(a.args !== undefined ? { CNI_ARGS: a.args } : {}),
    }
  }

  async #chain(command: 'ADD' | 'DEL' | 'CHECK', list: ConfList, a: Attachment, prevResult?: unknown): Promise<ChainOutcome> {
    const runs: PluginRun[] = []
    const plugins = command === 'DEL' ? [...list.plugins].reverse() : list.plugins
    let prev = prevResult
    for (const p of plugins) {
      const req = CniRuntime.request(list, p, { capabilityArgs: a.capabilityArgs, prevResult: prev })
      const run = await this.exec(p.type, command, req, CniRuntime.attachmentEnv(a))
      runs.push(run)
      if (run.exitCode !== 0) return { ok: false, error: run.error, runs, problems: runs.flatMap((r) => r.problems) }
      if (command === 'ADD') prev = run.result
    }
    return { ok: true, result: command === 'ADD' ? (prev as Record<string, any>) : undefined, runs, problems: runs.flatMap((r) => r.problems) }
  }

  add(list: ConfList, a: Attachment): Promise<ChainOutcome> {
    return this.#chain('ADD', list, a)
  }
  /** DEL in reverse order with the ADD's final result (SPEC.md section 3), or none when the runtime lost it. */
  del(list: ConfList, a: Attachment, prevResult?: unknown): Promise<ChainOutcome> {
    return this.#chain('DEL', list, a, prevResult)
  }
  check(list: ConfList, a: Attachment, prevResult: unknown): Promise<ChainOutcome> {
    return this.#chain('CHECK', list, a, prevResult)
  }

  /** GC: every plugin, errors do not stop the others. */
  async gc(list: ConfList, valid: { containerID: string; ifname: string }[]): Promise<ChainOutcome> {
    const runs: PluginRun[] = []
    for (const p of list.plugins) runs.push(await this.exec(p.type, 'GC', CniRuntime.request(list, p, { gc: valid })))
    const failed = runs.find((r) => r.exitCode !== 0)
    return { ok: !failed, error: failed?.error, runs, problems: runs.flatMap((r) => r.problems) }
  }

  async status(list: ConfList): Promise<ChainOutcome> {
    const runs: PluginRun[] = []
    for (const p of list.plugins) {
      const run = await this.exec(p.type, 'STATUS', CniRuntime.request(list, p))
      runs.push(run)
      if (run.exitCode !== 0) return { ok: false, error: run.error, runs, problems: runs.flatMap((r) => r.problems) }
    }
    return { ok: true, runs, problems: runs.flatMap((r) => r.problems) }
  }

  version(type: string, cniVersion?: string): Promise<PluginRun> {
    return this.exec(type, 'VERSION', cniVersion === undefined ? {} : { cniVersion })
  }
}

export interface ConfList {
  cniVersion: string
  name: string
  plugins: Record<string, any>[]
  [k: string]: unknown
}
