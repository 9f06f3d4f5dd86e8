// The benchmark's own check that the root network namespace ends as it began (links, nftables
// tables, net.* sysctls): the test suite's check (test/root-state.ts), without /run/netns entries.
import { rootDiff as diff, type RootState } from '../test/root-state'

export { rootSnapshot } from '../test/root-state'
export type { RootState }

export function rootDiff(a: RootState, b: RootState): string[] {
  return diff(a, b, { netns: false })
}
