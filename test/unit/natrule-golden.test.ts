// NatRule's own rules against nft: the skeleton of netns-kit's table (lib/nft/ruleset.ts) and the
// rules NatRule.masquerade / isolate build, printed the way `nft --debug=netlink` prints rules,
// must equal what nft printed for the same ruleset written as text (test/fixtures/nft/netns-kit.nft,
// captured by `sh test/fixtures/nft/capture.sh netns-kit` in a throwaway namespace). The sets and
// chains are compared with nft's own bytes. No privileges needed.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { native, type NftMsg } from '../../lib/kernel/binding'
import { skeleton } from '../../lib/nat/ruleset'
import { isolateExprs, masqueradeExprs } from '../../lib/nat/rule'
import { attrs, debugLine, debugRules, describe as describeAttrs, splitMessages, straceBuffers } from '../nft-wire'

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'nft')
const NFT_MSG_NEWSET = (10 << 8) | 9
const NFT_MSG_NEWCHAIN = (10 << 8) | 3
const NFTA_SET_USERDATA = 13
const NFTA_SET_ID = 10

describe('NatRule rules against nft --debug=netlink (fixture netns-kit)', () => {
  const text = fs.readFileSync(path.join(FIXTURES, 'netns-kit.netlink'), 'utf8')
  const theirs = debugRules(text)
  const base = skeleton().filter((m): m is Extract<NftMsg, { op: 'newrule' }> => m.op === 'newrule')
  const ours = [
    ...base.map((r) => r.exprs),
    masqueradeExprs(4, '172.18.0.0', 16, undefined, 'br0'),
    masqueradeExprs(4, '10.1.2.0', 23),
    masqueradeExprs(6, 'fd00:18::', 64, 'wan'),
    ...isolateExprs('br0', false),
    ...isolateExprs('br1', true),
  ]
  // The fixture lists the rules chain by chain; ours are in creation order. Put both in chain order.
  const chainOf = (i: number): string => (i < base.length ? base[i]!.chain : i < base.length + 3 ? 'postrouting' : 'forward')
  const order = ['prerouting', 'output', 'publish', 'postrouting', 'guard', 'forward']
  const sorted = ours.map((e, i) => ({ e, c: chainOf(i), i })).sort((a, b) => order.indexOf(a.c) - order.indexOf(b.c) || a.i - b.i)

  it('has as many rules as nft printed', () => {
    assert.equal(ours.length, theirs.length)
  })

  it('encodes every rule expression by expression as nft does', () => {
    sorted.forEach(({ e, c }, k) => assert.deepEqual(e.map(debugLine), theirs[k], `rule ${k} (chain ${c})`))
  })

  it('encodes the maps, sets and chains attribute by attribute as nft does (but for nft-only userdata and set ids)', () => {
    const nftMsgs = straceBuffers(fs.readFileSync(path.join(FIXTURES, 'netns-kit.strace'), 'utf8')).flatMap(splitMessages)
    const ourMsgs = splitMessages(native().nftEncode(skeleton().filter((m) => m.op === 'newset' || m.op === 'newchain')))
    for (const type of [NFT_MSG_NEWSET, NFT_MSG_NEWCHAIN]) {
      const strip = (payload: Buffer) => describeAttrs(attrs(payload.subarray(4)).filter((a) =>
        type !== NFT_MSG_NEWSET || (a.type !== NFTA_SET_USERDATA && a.type !== NFTA_SET_ID)))
      const a = nftMsgs.filter((m) => m.type === type).map((m) => strip(m.payload))
      const b = ourMsgs.filter((m) => m.type === type).map((m) => strip(m.payload))
      assert.deepEqual(b, a, type === NFT_MSG_NEWSET ? 'sets' : 'chains')
    }
  })
})
