// Root hooks: the suite stops any companion process left running, then ends by comparing the root network namespace with its state at the
// start (links, /run/netns entries, nftables tables, net.* sysctls) and fails on a difference.
import { stopAllCompanions } from '../lib/companion'
import { rootDiff, rootSnapshot, type RootState } from './root-state'

let before: RootState | undefined

export const mochaHooks = {
  beforeAll(): void {
    before = rootSnapshot()
  },
  async afterAll(): Promise<void> {
    // A detached companion outliving the suite would hold namespaces and ports (and break CI):
    // each test stops its own; this stops any a failed test left.
    const left = await stopAllCompanions()
    if (left.length) process.stderr.write(`test/setup.ts: stopped companion process(es) left running: ${left.join(', ')}\n`)
    if (!before) return
    const problems = rootDiff(before, rootSnapshot())
    if (problems.length) throw new Error(`the root network namespace changed during the tests:\n  ${problems.join('\n  ')}`)
  },
}
