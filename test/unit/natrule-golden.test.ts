// NatRule's own rules against nft: the skeletons of netns-kit's tables (lib/nat/ruleset.ts: the
// inet table with the isolation stage, the bridge table with anti-spoofing) and the rules
// NatRule.masquerade builds, printed the way `nft --debug=netlink` prints rules, must equal what
// nft printed for the same ruleset written as text (test/fixtures/nft/netns-kit.nft, captured by
// `sh test/fixtures/nft/capture.sh netns-kit` in a throwaway namespace). The sets and chains are
// compared with nft's own bytes. No privileges needed.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { native, type NftExpr, type NftMsg } from '../../lib/kernel/binding'
import { skeletonOf, tableDef } from '../../lib/nat/ruleset'
import { masqueradeExprs } from '../../lib/nat/rule'
import { attrs, debugLine, debugRulesWhere, describe as describeAttrs, splitMessages, straceBuffers } from '../nft-wire'

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'nft')
const NFT_MSG_NEWSET = (10 << 8) | 9
const NFT_MSG_NEWSETELEM = (10 << 8) | 12
const NFT_MSG_NEWCHAIN = (10 << 8) | 3
const NFTA_SET_USERDATA = 13
const NFTA_SET_ID = 10
const NFTA_SET_ELEM_LIST_SET_ID = 4

describe('NatRule rules against nft --debug=netlink (fixture netns-kit)', () => {
  const text = fs.readFileSync(path.join(FIXTURES, 'netns-kit.netlink'), 'utf8')
  const theirs = debugRulesWhere(text)
  const ours: { where: string; exprs: NftExpr[]; name: string }[] = []
  for (const family of ['inet', 'bridge'] as const) {
    for (const r of tableDef(family).rules) ours.push({ where: `${family} netns-kit ${r.chain}`, exprs: r.exprs, name: r.name })
  }
  ours.push(
    { where: 'inet netns-kit postrouting', exprs: masqueradeExprs(4, '172.18.0.0', 16, undefined, 'br0'), name: 'masquerade 1' },
    { where: 'inet netns-kit postrouting', exprs: masqueradeExprs(4, '10.1.2.0', 23), name: 'masquerade 2' },
    { where: 'inet netns-kit postrouting', exprs: masqueradeExprs(6, 'fd00:18::', 64, 'wan'), name: 'masquerade 3' },
  )
  const byChain = (list: { where: string }[]) => [...new Set(list.map((r) => r.where))].sort()

  it('has the same chains, and as many rules in each, as nft printed', () => {
    assert.deepEqual(byChain(ours), byChain(theirs))
    for (const w of byChain(ours)) assert.equal(ours.filter((r) => r.where === w).length, theirs.filter((r) => r.where === w).length, w)
  })

  it('encodes every rule expression by expression as nft does, chain by chain in order', () => {
    for (const w of byChain(ours)) {
      const a = ours.filter((r) => r.where === w)
      const b = theirs.filter((r) => r.where === w)
      a.forEach((r, k) => {
        let lines = r.exprs.map(debugLine)
        // nft 1.0.6 cannot write a neighbour advertisement's target: the fixture has `ip6 daddr`
        // (network header + 24) where ours loads the target (transport header + 8).
        if (r.name === 'nd-target') lines = lines.map((l) => l.replace('16b @ transport header + 8', '16b @ network header + 24'))
        assert.deepEqual(lines, b[k]!.lines, `${w} rule ${k} (${r.name})`)
      })
    }
  })

  it('encodes the maps, sets, constant elements and chains attribute by attribute as nft does (but for set ids, and userdata only nft reads)', () => {
    const nftMsgs = straceBuffers(fs.readFileSync(path.join(FIXTURES, 'netns-kit.strace'), 'utf8')).flatMap(splitMessages)
    const mine = [...skeletonOf('inet'), ...skeletonOf('bridge')].filter((m: NftMsg) => m.op === 'newset' || m.op === 'newchain' || m.op === 'newsetelem')
    const ourMsgs = splitMessages(native().nftEncode(mine))
    for (const type of [NFT_MSG_NEWSET, NFT_MSG_NEWCHAIN, NFT_MSG_NEWSETELEM]) {
      // A single-field set carries nft's key byte order (so `nft list` prints its keys); the
      // rest of nft's set userdata (typeof, merge hints) only nft reads.
      const single = (payload: Buffer) => attrs(payload.subarray(4)).some((a) => a.type === 4 && a.data.readUInt32BE(0) < 64)
      const strip = (payload: Buffer) =>
        describeAttrs(
          attrs(payload.subarray(4)).filter(
            (a) =>
              !(type === NFT_MSG_NEWSET && ((a.type === NFTA_SET_USERDATA && !single(payload)) || a.type === NFTA_SET_ID)) &&
              !(type === NFT_MSG_NEWSETELEM && a.type === NFTA_SET_ELEM_LIST_SET_ID),
          ),
        )
      // nft numbers the nests of a list of elements 1, 2, 3 (the kernel ignores their type); we write
      // NFTA_LIST_ELEM (1) for each, as the kernel's own dumps do.
      const elemNests = (lines: string[]) => lines.map((l) => l.replace(/^3N\.\d+N/, '3N.1N'))
      const a = nftMsgs.filter((m) => m.type === type).map((m) => elemNests(strip(m.payload)))
      const b = ourMsgs.filter((m) => m.type === type).map((m) => strip(m.payload))
      assert.deepEqual(b, a, type === NFT_MSG_NEWSET ? 'sets' : type === NFT_MSG_NEWCHAIN ? 'chains' : 'constant elements')
    }
  })
})
