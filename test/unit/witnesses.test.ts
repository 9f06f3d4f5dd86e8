// `npm test` starts with scripts/witnesses.js: one line naming the missing test witnesses (and the
// apt-get line for them) before any test runs, and README's one apt-get line installs them all.
import { strict as assert } from 'node:assert'
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..', '..')
const script = path.join(root, 'scripts', 'witnesses.js')
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { REQUIRED, OPTIONAL } = require(script) as { REQUIRED: Record<string, string>; OPTIONAL: Record<string, string> }

/** Runs the check with PATH holding only `tools` (empty executables) and node. */
function check(tools: string[]): { status: number | null; lines: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-witness-'))
  try {
    for (const t of tools) fs.writeFileSync(path.join(dir, t), '#!/bin/sh\n', { mode: 0o755 })
    const r = spawnSync(process.execPath, [script], { env: { PATH: dir }, encoding: 'utf8' })
    return { status: r.status, lines: (r.stderr + r.stdout).split('\n').filter(Boolean) }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe('test witnesses', () => {
  const all = Object.keys(REQUIRED).concat(Object.keys(OPTIONAL).filter((c) => !c.startsWith('/')))

  it('npm test runs the check first', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    assert.match(pkg.scripts.pretest, /^node scripts\/witnesses\.js && /)
  })

  it('names the missing witnesses in one line, with the packages to install, and fails', () => {
    const r = check(all.filter((c) => c !== 'dig' && c !== 'nft'))
    assert.equal(r.status, 1)
    const missing = r.lines.filter((l) => /missing test witnesses/.test(l))
    assert.equal(missing.length, 1, r.lines.join('\n'))
    assert.match(missing[0]!, /missing test witnesses: nft, dig; install them with: apt-get install -y dnsutils nftables$/)
  })

  it('passes quietly when every witness is there, and only notes the optional ones', () => {
    assert.deepEqual(check(all), { status: 0, lines: [] })
    const r = check(Object.keys(REQUIRED))
    assert.equal(r.status, 0)
    assert.equal(r.lines.length, 1)
    assert.match(r.lines[0]!, /optional witnesses missing \(their tests are skipped\): podman, crun, busybox/)
  })

  it("README's Set-up has one apt-get line installing every witness, and .ci/run installs them too", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
    const setup = readme.slice(readme.indexOf('\n## Set-up'), readme.indexOf('\n## ', readme.indexOf('\n## Set-up') + 5))
    const lines = setup.split('\n').filter((l) => l.startsWith('apt-get install -y '))
    assert.equal(lines.length, 1, 'one apt-get line in Set-up')
    const pkgs = new Set(lines[0]!.split(/\s+/).slice(3))
    const ci = fs.readFileSync(path.join(root, '.ci', 'run'), 'utf8')
    for (const p of new Set([...Object.values(REQUIRED), ...Object.values(OPTIONAL)])) {
      assert.ok(pkgs.has(p), `README's apt-get line lacks ${p}`)
      if (p !== 'util-linux') assert.ok(ci.includes(`=${p}`), `.ci/run does not install ${p}`)
    }
    for (const p of ['g++', 'make', 'python3']) assert.ok(pkgs.has(p), `README's apt-get line lacks ${p}`)
  })
})
