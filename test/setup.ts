// Root hooks: the suite ends by comparing the root network namespace with its state at the
// start (links, /run/netns entries, nftables tables, net.* sysctls) and fails on a difference.
import { rootDiff, rootSnapshot, type RootState } from './root-state'

let before: RootState | undefined

export const mochaHooks = {
  beforeAll(): void {
    before = rootSnapshot()
  },
  afterAll(): void {
    if (!before) return
    const problems = rootDiff(before, rootSnapshot())
    if (problems.length) throw new Error(`the root network namespace changed during the tests:\n  ${problems.join('\n  ')}`)
  },
}
