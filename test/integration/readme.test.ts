// Every README block fenced as ```ts runnable runs as written: each is saved as an ES module in an
// empty project whose node_modules/netns-kit is this package (dist/, as users import it), and run
// with tsx in a sandbox of its own: a new network namespace (lo up) and a mount namespace with a
// private tmpfs on /run (so /run/netns and the state store in /run/netns-kit are its own). Nothing
// a snippet makes can reach the machine's network, and everything goes with the sandbox.
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'

const exec = promisify(execFile)
const root = path.resolve(__dirname, '..', '..')

/** The fenced blocks of a Markdown text whose info string is exactly `ts runnable`, with their line numbers. */
export function runnableBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts runnable') continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end]!.trim() !== '```') end++
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') })
    i = end
  }
  return blocks
}

const SANDBOX = 'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/netns /run/lock && ip link set lo up && exec "$@"'

describe('README snippets run as written', function () {
  this.timeout(120_000)
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const blocks = runnableBlocks(readme)
  let dir: string

  before(async () => {
    if (!fs.existsSync(path.join(root, 'dist', 'index.mjs'))) await exec('npm', ['run', 'build'], { cwd: root })
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-readme-'))
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'netns-kit'))
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-snippets', private: true, type: 'module' }))
  })
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('has runnable blocks (every ts block is marked runnable or is a fragment on purpose)', () => {
    assert.ok(blocks.length >= 4, `${blocks.length} runnable blocks`)
    const allTs = readme.split('\n').filter((l) => /^```ts\b/.test(l.trim()))
    // The fragments: documented call shapes, and the overlay agent (it needs an etcd cluster: examples/overlay-three-hosts.ts runs it).
    const fragments = allTs.filter((l) => l.trim() !== '```ts runnable')
    assert.ok(
      fragments.every((l) => l.trim() === '```ts fragment'),
      `unmarked ts blocks: ${fragments.join(', ')}`,
    )
  })

  for (const [i, b] of runnableBlocks(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).entries()) {
    it(`block ${i + 1} (README.md line ${b.line}) runs in a sandbox namespace`, async () => {
      const file = path.join(dir, `snippet-${i + 1}.mts`)
      fs.writeFileSync(file, b.code + '\n')
      const tsx = path.join(root, 'node_modules', '.bin', 'tsx')
      try {
        await exec('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', SANDBOX, 'sh', tsx, file], {
          cwd: dir,
          timeout: 100_000,
          maxBuffer: 16 * 1024 * 1024,
        })
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string; message: string }
        assert.fail(`README.md line ${b.line} failed:\n${err.stderr || err.message}\n${err.stdout ?? ''}`)
      }
    })
  }
})
