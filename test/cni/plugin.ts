// netns-kit-cni as the tests run it: an executable wrapper (as a runtime finds plugins: a file
// named after the type in a plugin directory) that runs lib/cli/cni.ts from the source through
// tsx, so tests exercise the code as it is, built or not.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { PluginUnderTest, Scenario } from './harness'

export const PLUGIN_TYPE = 'netns-kit-cni'
const REPO = path.resolve(__dirname, '..', '..')

let dir: string | undefined

/** A directory holding the `netns-kit-cni` executable (made once per test process, removed at exit). */
export function netnsKitPluginDir(): string {
  if (dir) return dir
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-cni-plugin-'))
  fs.chmodSync(d, 0o755)
  const script = [
    '#!/bin/sh',
    // tsx keeps its transform cache under TMPDIR; podman sets TMPDIR=/var/tmp for plugins.
    'TMPDIR=/tmp; export TMPDIR',
    `exec ${process.execPath} --require ${require.resolve('tsx/cjs')} ${path.join(REPO, 'lib', 'cli', 'cni.ts')} "$@"`,
    '',
  ].join('\n')
  fs.writeFileSync(path.join(d, PLUGIN_TYPE), script, { mode: 0o755 })
  process.once('exit', () => fs.rmSync(d, { recursive: true, force: true }))
  dir = d
  return d
}

/** netns-kit-cni's configuration for a scenario (the reference bridge's fields, our own IPAM, portMappings capability). */
export function netnsKitConflist(s: Scenario, extra: Record<string, unknown> = {}): { cniVersion: string; name: string; plugins: Record<string, any>[] } {
  const range: Record<string, string> = { subnet: s.subnet }
  if (s.gateway) range.gateway = s.gateway
  if (s.rangeStart) range.rangeStart = s.rangeStart
  if (s.rangeEnd) range.rangeEnd = s.rangeEnd
  const plugin: Record<string, unknown> = { type: PLUGIN_TYPE, bridge: s.bridge }
  for (const k of ['isGateway', 'ipMasq', 'hairpinMode', 'mtu', 'dns'] as const) if (s[k] !== undefined) plugin[k] = s[k]
  plugin.ipam = { ranges: [[range]], ...(s.routes ? { routes: s.routes } : {}) }
  plugin.capabilities = { portMappings: true }
  return { cniVersion: s.cniVersion, name: s.network, plugins: [{ ...plugin, ...extra }] }
}

export function netnsKitPlugin(): PluginUnderTest {
  return { label: 'netns-kit-cni', pluginDirs: [netnsKitPluginDir(), '/usr/lib/cni'], conflist: (s) => netnsKitConflist(s) }
}
