// nf_tables in throwaway namespaces: one atomic batch of tables, chains, sets, rules and
// elements read back with nftList (round trip) and checked with `nft -j list ruleset` run
// inside the namespace; atomicity; deleting by handle; map elements one at a time; 2,000
// elements in one batch; and a real TCP connection redirected by a dnat map element.
import { strict as assert } from 'node:assert'
import { once } from 'node:events'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { VethPair, NetlinkError, type Namespace } from '../../lib'
import { native, type NftExpr, type NftMsg, type NftRuleInfo } from '../../lib/kernel/binding'
import { handleOf } from '../../lib/kernel/handles'
import { nftApply, nftList } from '../../lib/kernel/nft'
import { Sandbox, sh } from '../helpers'
import { canonical, comment, hex, ifname, masqueradeRule } from '../nft-wire'

const NFT_SET_MAP = 0x8
const NFT_SET_INTERVAL = 0x4
const NFT_SET_CONCAT = 0x80
const NFT_DATA_VERDICT = 0xffffff00
const TYPE_IPV4_ADDR = 7
const TYPE_PROTO_SERVICE = 0x30d // inet_proto . inet_service
const TYPE_ADDR_SERVICE = 0x1cd // ipv4_addr . inet_service

/** `nft ARGS` inside the namespace (the witness). */
async function nft(ns: Namespace, ...args: string[]): Promise<string> {
  return (await sh('ip', ['netns', 'exec', ns.name!, 'nft', ...args])).stdout
}

/** `nft -f FILE` inside the namespace, FILE holding `text`. */
async function nftFile(ns: Namespace, text: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nk-nft-'))
  try {
    fs.writeFileSync(path.join(dir, 'rules.nft'), text)
    await nft(ns, '-f', path.join(dir, 'rules.nft'))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** `nft -j list ruleset` inside the namespace: the objects under "nftables", metainfo dropped. */
async function nftJson(ns: Namespace, ...what: string[]): Promise<Record<string, any>[]> {
  const out = JSON.parse(await nft(ns, '-j', 'list', ...(what.length ? what : ['ruleset']))) as { nftables: Record<string, any>[] }
  return out.nftables.filter((o) => !('metainfo' in o))
}

/** A key or data field of a concatenation: 4-byte register slots, network order. */
const protoPort = (proto: number, port: number): Buffer => Buffer.concat([Buffer.from([proto, 0, 0, 0]), Buffer.from([port >> 8, port & 255, 0, 0])])
const addrPort = (addr: string, port: number): Buffer => Buffer.concat([Buffer.from(addr.split('.').map(Number)), Buffer.from([port >> 8, port & 255, 0, 0])])
const ip4 = (addr: string): Buffer => Buffer.from(addr.split('.').map(Number))

/** dnat ip to meta l4proto . th dport map @ports (as nft writes it: a concatenation from reg 1). */
const dnatViaMap = (setId?: number): NftExpr[] => [
  { type: 'meta', key: 'l4proto', dreg: 1 },
  { type: 'payload', base: 'transport', offset: 2, len: 2, dreg: 9 },
  { type: 'lookup', sreg: 1, dreg: 1, set: 'ports', ...(setId ? { setId } : {}) },
  { type: 'nat', natType: 'dnat', family: 'ip', regAddrMin: 1, regProtoMin: 9 },
]

/** A whole ruleset in one batch: the kind NatRule builds. */
function ruleset(): NftMsg[] {
  return [
    { op: 'newtable', family: 'ip', name: 'nk', userdata: comment('netns-kit') },
    { op: 'newchain', family: 'ip', table: 'nk', name: 'prerouting', type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' },
    { op: 'newchain', family: 'ip', table: 'nk', name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' },
    { op: 'newchain', family: 'ip', table: 'nk', name: 'forward', type: 'filter', hook: 'forward', priority: 0, policy: 'drop', userdata: comment('fw') },
    { op: 'newchain', family: 'ip', table: 'nk', name: 'isolate' },
    {
      op: 'newset',
      family: 'ip',
      table: 'nk',
      name: 'ports',
      id: 1,
      flags: NFT_SET_MAP,
      keyType: TYPE_PROTO_SERVICE,
      keyLen: 8,
      dataType: TYPE_ADDR_SERVICE,
      dataLen: 8,
    },
    { op: 'newset', family: 'ip', table: 'nk', name: 'vm', id: 2, flags: NFT_SET_MAP, keyType: TYPE_IPV4_ADDR, keyLen: 4, dataType: NFT_DATA_VERDICT },
    {
      op: 'newset',
      family: 'ip',
      table: 'nk',
      name: 'allow',
      id: 3,
      flags: NFT_SET_CONCAT | NFT_SET_INTERVAL,
      keyType: TYPE_ADDR_SERVICE,
      keyLen: 8,
      fieldLens: [4, 2],
    },
    {
      op: 'newsetelem',
      family: 'ip',
      table: 'nk',
      set: 'ports',
      setId: 1,
      elements: [
        { key: protoPort(6, 8080), data: addrPort('10.0.0.2', 80), userdata: comment('owner:web') },
        { key: protoPort(17, 53), data: addrPort('10.0.0.3', 53) },
      ],
    },
    {
      op: 'newsetelem',
      family: 'ip',
      table: 'nk',
      set: 'vm',
      setId: 2,
      elements: [
        { key: ip4('10.0.0.5'), verdict: { code: 'jump', chain: 'isolate' } },
        { key: ip4('10.0.0.6'), verdict: { code: 'drop' } },
      ],
    },
    {
      op: 'newsetelem',
      family: 'ip',
      table: 'nk',
      set: 'allow',
      setId: 3,
      elements: [{ key: addrPort('10.0.0.0', 1000), keyEnd: addrPort('10.0.0.255', 2000) }],
    },
    { op: 'newrule', family: 'ip', table: 'nk', chain: 'postrouting', exprs: masqueradeRule, userdata: comment('netns-kit:masq') },
    { op: 'newrule', family: 'ip', table: 'nk', chain: 'prerouting', exprs: dnatViaMap(1), userdata: comment('netns-kit:publish') },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'forward',
      exprs: [
        { type: 'ct', key: 'state', dreg: 1 },
        { type: 'bitwise', sreg: 1, dreg: 1, len: 4, mask: hex('06000000'), xor: hex('00000000') },
        { type: 'cmp', sreg: 1, op: 'neq', data: hex('00000000') },
        { type: 'immediate', dreg: 0, verdict: { code: 'accept' } },
      ],
    },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'forward',
      exprs: [
        { type: 'meta', key: 'iifname', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: ifname('br0') },
        { type: 'meta', key: 'oifname', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: ifname('br1') },
        { type: 'immediate', dreg: 0, verdict: { code: 'drop' } },
      ],
    },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'forward',
      exprs: [
        { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 1 },
        { type: 'lookup', sreg: 1, dreg: 0, set: 'vm', setId: 2 },
      ],
    },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'forward',
      exprs: [
        { type: 'meta', key: 'l4proto', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: hex('06') },
        { type: 'payload', base: 'network', offset: 12, len: 4, dreg: 1 },
        { type: 'payload', base: 'transport', offset: 2, len: 2, dreg: 9 },
        { type: 'lookup', sreg: 1, set: 'allow', setId: 3, invert: true },
        { type: 'counter' },
        { type: 'immediate', dreg: 0, verdict: { code: 'goto', chain: 'isolate' } },
      ],
    },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'prerouting',
      exprs: [
        { type: 'fib', result: 'addrtype', flags: 2, dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: hex('02000000') },
        { type: 'meta', key: 'l4proto', dreg: 1 },
        { type: 'cmp', sreg: 1, op: 'eq', data: hex('06') },
        { type: 'payload', base: 'transport', offset: 2, len: 2, dreg: 1 },
        { type: 'range', sreg: 1, op: 'eq', from: hex('1f40'), to: hex('1f4f') },
        { type: 'immediate', dreg: 1, data: hex('0050') },
        { type: 'redir', regProtoMin: 1 },
      ],
    },
    {
      op: 'newrule',
      family: 'ip',
      table: 'nk',
      chain: 'isolate',
      exprs: [
        { type: 'counter', bytes: 0n, packets: 0n },
        { type: 'immediate', dreg: 0, verdict: { code: 'drop' } },
      ],
    },
  ]
}

/** What nftList gives back for a rule we wrote: the same shape (see canonical), plus its handle. */
function expectedRule(m: Extract<NftMsg, { op: 'newrule' }>, handle: bigint): NftRuleInfo {
  return {
    family: m.family,
    table: m.table,
    chain: m.chain,
    exprs: m.exprs.map((e) => canonical(e, true)),
    ...(m.userdata ? { userdata: m.userdata } : {}),
    handle,
  }
}

describe('nftables (native binding)', function () {
  this.timeout(60000)
  const sb = new Sandbox()
  afterEach(() => sb.cleanup())

  it('looks elements up by key (one request each) and answers null for keys the set does not hold', async () => {
    const ns = await sb.ns()
    const t = { family: 'inet' as const, table: 'lookup' }
    const elements = [100, 200, 300].map((p) => ({ key: protoPort(6, p), data: addrPort('10.0.0.2', p + 1), userdata: comment(`owner ${p}`) }))
    await nftApply(ns, [
      { op: 'newtable', family: 'inet', name: 'lookup' },
      { op: 'newset', ...t, name: 'm', keyType: TYPE_PROTO_SERVICE, keyLen: 8, dataType: TYPE_ADDR_SERVICE, dataLen: 8, flags: NFT_SET_MAP },
      { op: 'newsetelem', ...t, set: 'm', elements },
    ])
    const found = await native().nftList(handleOf(ns), {
      what: 'elements',
      ...t,
      set: 'm',
      keys: [protoPort(6, 200), protoPort(6, 250), protoPort(17, 100), protoPort(6, 100)],
    })
    assert.equal(found.length, 4)
    assert.deepEqual(found[0], elements[1])
    assert.equal(found[1], null)
    assert.equal(found[2], null, 'another protocol, same port')
    assert.deepEqual(found[3], elements[0])
    assert.deepEqual(await native().nftList(handleOf(ns), { what: 'elements', ...t, set: 'm', keys: [] }), [])
    // The witness: nft finds the same element.
    assert.match(await nft(ns, 'get', 'element', 'inet', 'lookup', 'm', '{ tcp . 200 }'), /tcp \. 200 comment "owner 200" : 10\.0\.0\.2 \. 201/)
    // The kernel answers ENOENT for a missing set as for a missing element: both read as null.
    assert.deepEqual(await native().nftList(handleOf(ns), { what: 'elements', ...t, set: 'nope', keys: [protoPort(6, 1)] }), [null])
  })

  it('applies tables, chains, sets, rules and elements in one batch and reads them back as written', async () => {
    const ns = await sb.ns()
    // Someone else's table in the same namespace and hooks (made with nft -f): it must stay exactly as it is.
    await nftFile(
      ns,
      `table inet other {
      set s { type ipv4_addr; elements = { 192.0.2.1 } }
      chain input { type filter hook input priority 0; policy accept; tcp dport 22 counter accept; }
      chain postrouting { type nat hook postrouting priority 100; ip saddr 192.0.2.0/24 masquerade; }
    }`,
    )
    const theirsBefore = await nftJson(ns, 'table', 'inet', 'other')

    const msgs = ruleset()
    const r = await native().nft(handleOf(ns), msgs)
    assert.ok(r.ok, `batch refused: ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`)
    assert.equal(r.handles.length, msgs.length)
    const ruleMsgs = msgs.flatMap((m, i) => (m.op === 'newrule' ? [{ m, handle: r.handles[i]! }] : []))
    msgs.forEach((m, i) => assert.equal(typeof r.handles[i], m.op === 'newrule' ? 'bigint' : 'object', `handle of message ${i}`))
    assert.equal(new Set(ruleMsgs.map((x) => x.handle)).size, ruleMsgs.length, 'distinct rule handles')

    // Round trip: nftList reads back what was written.
    const rules = await nftList(ns, { what: 'rules', family: 'ip', table: 'nk' })
    assert.equal(rules.length, ruleMsgs.length)
    for (const { m, handle } of ruleMsgs) {
      const got = rules.find((x) => x.handle === handle)
      assert.ok(got, `rule ${handle} listed`)
      assert.deepEqual(got, expectedRule(m, handle))
    }
    // brief: the same rules (handles, chains, comments) without their expressions.
    const brief = await nftList(ns, { what: 'rules', family: 'ip', table: 'nk', brief: true })
    assert.deepEqual(
      brief,
      rules.map(({ exprs: _exprs, ...rest }) => rest),
    )
    assert.ok(brief.every((x) => !('exprs' in x)))
    await assert.rejects(nftList(ns, { what: 'sets', brief: true }), /brief: only for listing rules/)
    const tables = await nftList(ns, { what: 'tables' })
    assert.deepEqual(tables.map((t) => `${t.family} ${t.name}`).sort(), ['inet other', 'ip nk'])
    const nk = tables.find((t) => t.name === 'nk')!
    assert.deepEqual({ ...nk, handle: 0n }, { family: 'ip', name: 'nk', userdata: comment('netns-kit'), handle: 0n })
    const chains = await nftList(ns, { what: 'chains', family: 'ip', table: 'nk' })
    for (const m of msgs.filter((x): x is Extract<NftMsg, { op: 'newchain' }> => x.op === 'newchain')) {
      const c = chains.find((x) => x.name === m.name)
      assert.ok(c, `chain ${m.name}`)
      const { op: _op, ...want } = m
      assert.deepEqual({ ...c, handle: 0n }, { ...want, handle: 0n })
    }
    const sets = await nftList(ns, { what: 'sets', family: 'ip', table: 'nk' })
    for (const m of msgs.filter((x): x is Extract<NftMsg, { op: 'newset' }> => x.op === 'newset')) {
      const s = sets.find((x) => x.name === m.name)
      assert.ok(s, `set ${m.name}`)
      const { op: _op, id: _id, ...want } = m
      assert.deepEqual({ ...s, handle: 0n }, { ...want, handle: 0n })
    }
    for (const m of msgs.filter((x): x is Extract<NftMsg, { elements: unknown }> => x.op === 'newsetelem')) {
      const elems = await nftList(ns, { what: 'elements', family: 'ip', table: 'nk', set: m.set })
      const key = (e: { key?: Buffer }) => e.key!.toString('hex')
      assert.deepEqual(
        [...elems].sort((a, b) => key(a).localeCompare(key(b))),
        [...m.elements].sort((a, b) => key(a).localeCompare(key(b))),
        `elements of ${m.set}`,
      )
    }

    // The witness: nft itself, inside the namespace, reads every object as nft would have written it.
    const text = await nft(ns, 'list', 'table', 'ip', 'nk')
    for (const line of [
      'comment "netns-kit"',
      'type inet_proto . inet_service : ipv4_addr . inet_service',
      'tcp . 8080 comment "owner:web" : 10.0.0.2 . 80',
      'udp . 53 : 10.0.0.3 . 53',
      'type ipv4_addr : verdict',
      'elements = { 10.0.0.5 : jump isolate, 10.0.0.6 : drop }',
      'elements = { 10.0.0.0/24 . 1000-2000 }',
      'type nat hook prerouting priority dstnat; policy accept;',
      'dnat ip to meta l4proto . th dport map @ports comment "netns-kit:publish"',
      'fib daddr type local tcp dport 8000-8015 redirect to :80',
      'type nat hook postrouting priority srcnat; policy accept;',
      'ip saddr 172.18.0.0/16 oifname != "br0" masquerade comment "netns-kit:masq"',
      'comment "fw"',
      'type filter hook forward priority filter; policy drop;',
      'ct state established,related accept',
      'iifname "br0" oifname "br1" drop',
      'ip daddr vmap @vm',
      'ip saddr . tcp dport != @allow counter packets 0 bytes 0 goto isolate',
      'counter packets 0 bytes 0 drop',
    ])
      assert.ok(text.includes(line), `nft list shows: ${line}\n${text}`)
    const json = await nftJson(ns)
    const jchains = Object.fromEntries(json.filter((o) => o.chain?.table === 'nk').map((o) => [o.chain.name, o.chain]))
    assert.deepEqual(
      [jchains.prerouting.type, jchains.prerouting.hook, jchains.prerouting.prio, jchains.prerouting.policy],
      ['nat', 'prerouting', -100, 'accept'],
    )
    assert.deepEqual([jchains.postrouting.type, jchains.postrouting.hook, jchains.postrouting.prio], ['nat', 'postrouting', 100])
    assert.deepEqual([jchains.forward.type, jchains.forward.hook, jchains.forward.prio, jchains.forward.policy], ['filter', 'forward', 0, 'drop'])
    assert.equal(jchains.isolate.hook, undefined)
    const jrules = json.filter((o) => o.rule?.table === 'nk').map((o) => o.rule)
    assert.deepEqual(jrules.map((x) => BigInt(x.handle)).sort(), ruleMsgs.map((x) => x.handle).sort(), 'the handles nft shows are the ones the batch returned')
    const masq = jrules.find((x) => x.comment === 'netns-kit:masq')
    assert.equal(BigInt(masq.handle), ruleMsgs[0]!.handle)
    assert.deepEqual(masq.expr, [
      { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '172.18.0.0', len: 16 } } } },
      { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'br0' } },
      { masquerade: null },
    ])
    const jports = json.find((o) => o.map?.name === 'ports')!.map
    const sorted = (a: unknown[]) => a.map((x) => JSON.stringify(x)).sort()
    assert.deepEqual(
      sorted(jports.elem),
      sorted([
        [{ elem: { val: { concat: ['tcp', 8080] }, comment: 'owner:web' } }, { concat: ['10.0.0.2', 80] }],
        [{ concat: ['udp', 53] }, { concat: ['10.0.0.3', 53] }],
      ]),
    )

    // Their table did not move, and removing ours leaves it alone.
    assert.deepEqual(await nftJson(ns, 'table', 'inet', 'other'), theirsBefore)
    await nftApply(ns, [{ op: 'deltable', family: 'ip', name: 'nk' }])
    assert.deepEqual(
      (await nftList(ns, { what: 'tables' })).map((t) => `${t.family} ${t.name}`),
      ['inet other'],
    )
    assert.deepEqual(await nftJson(ns, 'table', 'inet', 'other'), theirsBefore)
  })

  it('applies nothing when the 3rd message fails, and reports index 2 with the extended ACK', async () => {
    const ns = await sb.ns()
    await nft(ns, 'add table inet other')
    const before = await nft(ns, 'list', 'ruleset')
    const msgs: NftMsg[] = [
      { op: 'newtable', family: 'ip', name: 'nk' },
      { op: 'newchain', family: 'ip', table: 'nk', name: 'postrouting', type: 'nat', hook: 'postrouting', priority: 100 },
      { op: 'newrule', family: 'ip', table: 'nk', chain: 'missing', exprs: masqueradeRule },
      { op: 'newrule', family: 'ip', table: 'nk', chain: 'postrouting', exprs: masqueradeRule },
    ]
    const r = await native().nft(handleOf(ns), msgs)
    assert.equal(r.ok, false)
    if (r.ok) return
    assert.equal(r.index, 2)
    assert.equal(r.errno, -2)
    assert.equal(r.syscall, 'NFT_MSG_NEWRULE')
    assert.equal(r.attribute, 'NFTA_RULE_CHAIN', 'the kernel pointed at the chain name')
    assert.match(r.extack!, /NFTA_RULE_CHAIN/)
    assert.equal(await nft(ns, 'list', 'ruleset'), before, 'nothing applied: no table nk, no chain')
    assert.deepEqual(
      (await nftList(ns, { what: 'tables' })).map((t) => t.name),
      ['other'],
    )

    // Through lib/nft: a NetlinkError naming the message, with its index.
    await assert.rejects(
      nftApply(ns, msgs),
      (e: NetlinkError & { opIndex?: number }) =>
        e instanceof NetlinkError &&
        e.code === 'ENOENT' &&
        e.syscall === 'NFT_MSG_NEWRULE' &&
        e.opIndex === 2 &&
        e.message.includes('rule in ip nk missing') &&
        /NFTA_RULE_CHAIN/.test(e.extack ?? ''),
    )

    // A refusal found only when the kernel checks the whole batch (a masquerade in a filter
    // chain) rolls everything back too.
    const late = await native().nft(handleOf(ns), [
      { op: 'newtable', family: 'ip', name: 'nk' },
      { op: 'newchain', family: 'ip', table: 'nk', name: 'input', type: 'filter', hook: 'input', priority: 0 },
      { op: 'newrule', family: 'ip', table: 'nk', chain: 'input', exprs: [{ type: 'masq' }] },
    ])
    assert.equal(late.ok, false)
    if (!late.ok) assert.deepEqual([late.errno, late.index, late.syscall], [-95, 2, 'NFT_MSG_NEWRULE'])
    assert.equal(await nft(ns, 'list', 'ruleset'), before)
  })

  it('deletes exactly one rule by its handle', async () => {
    const ns = await sb.ns()
    const rule = (tag: string): NftMsg => ({ op: 'newrule', family: 'inet', table: 'nk', chain: 'c', exprs: [{ type: 'counter' }], userdata: comment(tag) })
    const handles = await nftApply(ns, [
      { op: 'newtable', family: 'inet', name: 'nk' },
      { op: 'newchain', family: 'inet', table: 'nk', name: 'c', type: 'filter', hook: 'input', priority: 0 },
      rule('one'),
      rule('two'),
      rule('three'),
    ])
    const [h1, h2, h3] = handles.slice(2) as bigint[]
    const listed = await nft(ns, '-a', 'list', 'chain', 'inet', 'nk', 'c')
    for (const [h, tag] of [
      [h1, 'one'],
      [h2, 'two'],
      [h3, 'three'],
    ] as const)
      assert.match(listed, new RegExp(`comment "${tag}" # handle ${h}\\b`))
    await nftApply(ns, [{ op: 'delrule', family: 'inet', table: 'nk', chain: 'c', handle: h2! }])
    const left = await nftList(ns, { what: 'rules', family: 'inet', table: 'nk', chain: 'c' })
    assert.deepEqual(
      left.map((x) => x.handle),
      [h1, h3],
    )
    assert.deepEqual(
      left.map((x) => x.userdata),
      [comment('one'), comment('three')],
    )
    const witness = (await nftJson(ns, 'chain', 'inet', 'nk', 'c')).filter((o) => o.rule).map((o) => BigInt(o.rule.handle))
    assert.deepEqual(witness, [h1, h3])
    // Gone is gone: the same handle again is ENOENT, and destroyrule does not mind (kernel >= 6.3).
    await assert.rejects(
      nftApply(ns, [{ op: 'delrule', family: 'inet', table: 'nk', chain: 'c', handle: h2! }]),
      (e: NetlinkError) => e.code === 'ENOENT' && e.syscall === 'NFT_MSG_DELRULE',
    )
    await nftApply(ns, [{ op: 'destroyrule', family: 'inet', table: 'nk', chain: 'c', handle: h2! }])
    // Inserting after a handle puts the rule right there.
    const [hx] = await nftApply(ns, [{ ...rule('after-one'), position: h1! } as NftMsg])
    assert.deepEqual(
      (await nftList(ns, { what: 'rules', family: 'inet', table: 'nk', chain: 'c' })).map((x) => x.handle),
      [h1, hx, h3],
    )
  })

  it('adds and removes map elements one at a time', async () => {
    const ns = await sb.ns()
    await nftApply(ns, [
      { op: 'newtable', family: 'ip', name: 'nk' },
      {
        op: 'newset',
        family: 'ip',
        table: 'nk',
        name: 'ports',
        flags: NFT_SET_MAP,
        keyType: TYPE_PROTO_SERVICE,
        keyLen: 8,
        dataType: TYPE_ADDR_SERVICE,
        dataLen: 8,
      },
    ])
    const elem = (port: number, to: string) => ({ key: protoPort(6, port), data: addrPort(to, 80), userdata: comment(`owner:${port}`) })
    const list = async () => (await nftList(ns, { what: 'elements', family: 'ip', table: 'nk', set: 'ports' })).map((e) => e.key!.readUInt16BE(4)).sort()
    const witness = async () => ((await nftJson(ns, 'map', 'ip', 'nk', 'ports'))[0]!.map.elem ?? []).length
    assert.deepEqual(await list(), [])
    await nftApply(ns, [{ op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [elem(8080, '10.0.0.2')] }])
    assert.deepEqual(await list(), [8080])
    await nftApply(ns, [{ op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [elem(8081, '10.0.0.3')] }])
    assert.deepEqual(await list(), [8080, 8081])
    assert.equal(await witness(), 2)
    assert.match(await nft(ns, 'list', 'map', 'ip', 'nk', 'ports'), /tcp \. 8081 comment "owner:8081" : 10\.0\.0\.3 \. 80/)
    // Adding one that exists with exclusive is EEXIST; the others are untouched.
    await assert.rejects(
      nftApply(ns, [{ op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', exclusive: true, elements: [elem(8080, '10.0.0.9')] }]),
      (e: NetlinkError) => e.code === 'EEXIST' && e.syscall === 'NFT_MSG_NEWSETELEM',
    )
    await nftApply(ns, [{ op: 'delsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [{ key: protoPort(6, 8080) }] }])
    assert.deepEqual(await list(), [8081])
    assert.equal(await witness(), 1)
    await assert.rejects(
      nftApply(ns, [{ op: 'delsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [{ key: protoPort(6, 8080) }] }]),
      (e: NetlinkError) => e.code === 'ENOENT',
    )
    await nftApply(ns, [{ op: 'delsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [{ key: protoPort(6, 8081) }] }])
    assert.deepEqual(await list(), [])
    assert.equal(await witness(), 0)
  })

  it('adds 2,000 map elements in one batch', async () => {
    const ns = await sb.ns()
    const elements = Array.from({ length: 2000 }, (_, i) => ({
      key: protoPort(6, 10000 + i),
      data: addrPort(`10.0.${i >> 8}.${i & 255}`, 80),
      userdata: comment(`netns-kit:ep${i}`),
    }))
    const t0 = process.hrtime.bigint()
    await nftApply(ns, [
      { op: 'newtable', family: 'ip', name: 'nk' },
      {
        op: 'newset',
        family: 'ip',
        table: 'nk',
        name: 'ports',
        flags: NFT_SET_MAP,
        keyType: TYPE_PROTO_SERVICE,
        keyLen: 8,
        dataType: TYPE_ADDR_SERVICE,
        dataLen: 8,
      },
      { op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', elements },
    ])
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    assert.ok(ms < 10000, `took ${ms} ms`)
    const listed = await nftList(ns, { what: 'elements', family: 'ip', table: 'nk', set: 'ports' })
    assert.equal(listed.length, 2000)
    const byKey = new Map(listed.map((e) => [e.key!.toString('hex'), e]))
    for (const e of elements) assert.deepEqual(byKey.get(e.key.toString('hex')), e)
    // The 6,000 byte strings are Buffer views into a few shared slabs of at most 64 KiB, not one
    // backing store each (30,000 of them at 10,000 elements made the trips after a collection 10x slower).
    const values = listed.flatMap((e) => [e.key!, e.data!, e.userdata!])
    assert.ok(values.every((v) => Buffer.isBuffer(v)))
    const slabs = new Set(values.map((v) => v.buffer))
    const bytes = values.reduce((n, v) => n + v.length, 0)
    assert.ok(slabs.size <= Math.ceil(bytes / 65536) + 1, `${slabs.size} backing stores for ${bytes} bytes`)
    for (const b of slabs) assert.ok(b.byteLength <= 65536, `a slab of ${b.byteLength} bytes`)
    const witness = (await nftJson(ns, 'map', 'ip', 'nk', 'ports'))[0]!.map.elem
    assert.equal(witness.length, 2000)

    // 2,000 more where one is malformed (a 5-byte key): refused whole, and the error names it.
    const more = elements.map((e, i) => ({ ...e, key: i === 1800 ? Buffer.alloc(5, 1) : protoPort(6, 20000 + i) }))
    const r = await native().nft(handleOf(ns), [{ op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', elements: more }])
    assert.equal(r.ok, false)
    if (!r.ok) {
      assert.deepEqual([r.errno, r.index, r.syscall], [-22, 0, 'NFT_MSG_NEWSETELEM'])
      assert.match(r.attribute!, /^NFTA_SET_ELEM_LIST_ELEMENTS > element #1800\b/)
    }
    assert.equal((await nftList(ns, { what: 'elements', family: 'ip', table: 'nk', set: 'ports' })).length, 2000)
  })

  it('redirects a TCP connection through a dnat map element, and stops when the element goes', async function () {
    // client (10.10.1.2) -> host (10.10.1.1:8080) --dnat--> container (10.10.2.2:80), all in namespaces made here.
    const host = await sb.ns()
    const client = await sb.ns()
    const container = await sb.ns()
    const a = await VethPair.create({ name: 'h-c', namespace: host, up: true, peer: { name: 'eth0', namespace: client, up: true } })
    const b = await VethPair.create({ name: 'h-k', namespace: host, up: true, peer: { name: 'eth0', namespace: container, up: true } })
    await a.host.addAddress('10.10.1.1/24')
    await a.peer.addAddress('10.10.1.2/24')
    await b.host.addAddress('10.10.2.1/24')
    await b.peer.addAddress('10.10.2.2/24')
    await client.routes.add({ to: 'default', via: '10.10.1.1' })
    await container.routes.add({ to: 'default', via: '10.10.2.1' })
    await host.sysctl.set('net.ipv4.ip_forward', 1)

    const server = container.spawn('socat', ['TCP-LISTEN:80,reuseaddr,fork', 'SYSTEM:echo hello-from-container'], { stdio: 'ignore' })
    try {
      await waitForListener(container, 80)
      await nftApply(host, [
        { op: 'newtable', family: 'ip', name: 'nk' },
        { op: 'newchain', family: 'ip', table: 'nk', name: 'prerouting', type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' },
        {
          op: 'newset',
          family: 'ip',
          table: 'nk',
          name: 'ports',
          id: 1,
          flags: NFT_SET_MAP,
          keyType: TYPE_PROTO_SERVICE,
          keyLen: 8,
          dataType: TYPE_ADDR_SERVICE,
          dataLen: 8,
        },
        {
          op: 'newrule',
          family: 'ip',
          table: 'nk',
          chain: 'prerouting',
          exprs: [
            { type: 'payload', base: 'network', offset: 16, len: 4, dreg: 1 },
            { type: 'cmp', sreg: 1, op: 'eq', data: ip4('10.10.1.1') },
            ...dnatViaMap(1),
          ],
        },
      ])
      assert.equal(await connect(client, '10.10.1.1', 8080), null, 'no element yet: nothing listens on the host')
      await nftApply(host, [
        { op: 'newsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [{ key: protoPort(6, 8080), data: addrPort('10.10.2.2', 80) }] },
      ])
      assert.equal(await connect(client, '10.10.1.1', 8080), 'hello-from-container')
      await nftApply(host, [{ op: 'delsetelem', family: 'ip', table: 'nk', set: 'ports', elements: [{ key: protoPort(6, 8080) }] }])
      assert.equal(await connect(client, '10.10.1.1', 8080), null, 'element removed: the port is closed again')
    } finally {
      server.kill()
      await once(server, 'exit').catch(() => {})
    }
  })

  it('refuses a bad listing query and reports a missing set', async () => {
    const ns = await sb.ns()
    await assert.rejects(
      nftList(ns, { what: 'elements', table: 'nk', set: 'x' }),
      (e: Error & { code?: string }) => e instanceof TypeError && /family/.test(e.message),
    )
    await assert.rejects(nftList(ns, { what: 'nope' } as never), TypeError)
    await assert.rejects(
      nftList(ns, { what: 'elements', family: 'ip', table: 'nk', set: 'x' }),
      (e: NetlinkError) => e instanceof NetlinkError && e.code === 'ENOENT' && e.syscall === 'NFT_MSG_GETSETELEM',
    )
    assert.deepEqual(await nftList(ns, { what: 'rules' }), [])
  })
})

/** Waits until something listens on TCP `port` inside `ns` (ss, the witness). */
async function waitForListener(ns: Namespace, port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const out = (await sh('ip', ['netns', 'exec', ns.name!, 'ss', '-Htln', `sport = :${port}`])).stdout
    if (out.trim()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing listens on ${port} in ${ns.name}`)
}

/** One TCP connection from inside `ns`: what the server said, or null if it could not connect. */
async function connect(ns: Namespace, addr: string, port: number): Promise<string | null> {
  const r = await sh('ip', ['netns', 'exec', ns.name!, 'socat', '-T', '3', '-', `TCP:${addr}:${port},connect-timeout=3`], { allowFail: true })
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null
}
