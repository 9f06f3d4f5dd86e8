// Root hooks: the suite stops any companion process left running and removes the companions' logs it
// left under /run/netns-kit, then ends by comparing the root network namespace with its state at the
// start (links, /run/netns entries, nftables tables, net.* sysctls) and fails on a difference.
import * as fs from 'node:fs'
import * as path from 'node:path'
import { stopAllCompanions } from '../lib/companion'
import { rootDiff, rootSnapshot, type RootState } from './root-state'

let before: RootState | undefined

/** netns-kit's run directory: the companions the tests start log there (and the /etc/netns registry lives there). */
const RUN_DIR = '/run/netns-kit'
/** Its entries at the start; undefined when it did not exist. */
let runBefore: Set<string> | undefined

/**
 * Removes what the run added to /run/netns-kit that is only a by-product of the tests: the
 * companions' logs, the /etc/netns registry's directory once empty, the directory itself if the
 * run made it and it is empty. Returns anything else the run left there (a test's leftover).
 */
function cleanRunDir(): string[] {
  let now: string[]
  try {
    now = fs.readdirSync(RUN_DIR)
  } catch {
    return []
  }
  const added = now.filter((n) => !runBefore?.has(n))
  const left: string[] = []
  for (const n of added) {
    const p = path.join(RUN_DIR, n)
    if (/^companion-[^/]*\.log(\.old)?$/.test(n)) fs.rmSync(p, { force: true })
    else if (n === 'etc-netns') {
      try {
        fs.rmdirSync(p) // only when empty: files there are a test's leftover (root-state reports them)
      } catch {
        left.push(p)
      }
    } else left.push(p)
  }
  if (runBefore === undefined && !left.length) {
    try {
      fs.rmdirSync(RUN_DIR)
    } catch {
      /* not empty */
    }
  }
  return left
}

export const mochaHooks = {
  beforeAll(): void {
    before = rootSnapshot()
    runBefore = fs.existsSync(RUN_DIR) ? new Set(fs.readdirSync(RUN_DIR)) : undefined
  },
  async afterAll(): Promise<void> {
    // A detached companion outliving the suite would hold namespaces and ports (and break CI):
    // each test stops its own; this stops any a failed test left.
    const left = await stopAllCompanions()
    if (left.length) process.stderr.write(`test/setup.ts: stopped companion process(es) left running: ${left.join(', ')}\n`)
    const stray = cleanRunDir()
    if (stray.length) process.stderr.write(`test/setup.ts: left under ${RUN_DIR} by the tests: ${stray.join(', ')}\n`)
    if (!before) return
    const problems = rootDiff(before, rootSnapshot())
    if (problems.length) throw new Error(`the root network namespace changed during the tests:\n  ${problems.join('\n  ')}`)
  },
}
