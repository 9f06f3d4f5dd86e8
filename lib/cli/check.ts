// `netns-kit check`: what differs between netns-kit's records and the kernel, network by network
// (network.check(), which changes nothing). Exit status 1 when anything differs.
import { Network } from '../index'
import type { Command } from './network-commands'
import { json, table } from './output'

/** One difference, as network.check() reports it ({ kind, object, message }). */
type Problem = Awaited<ReturnType<Network['check']>>[number]

export const check: Command = {
  usage: 'check [NETWORK...]',
  summary: 'Compare the records with the kernel (rules, links, addresses); exit status 1 when they differ',
  help: [],
  options: {},
  async run(p, ctx) {
    const nets = p.positionals.length ? await Promise.all(p.positionals.map((n) => Network.open(n))) : await Network.list()
    const out: { network: string; problems: Problem[] }[] = []
    for (const net of nets) {
      out.push({ network: net.name, problems: await net.check() })
    }
    const bad = out.filter((n) => n.problems.length)
    if (ctx.json) ctx.io.out(json(out))
    else if (bad.length) {
      ctx.io.out(
        table(
          ['NETWORK', 'KIND', 'OBJECT', 'PROBLEM'],
          bad.flatMap((n) => n.problems.map((x) => [n.network, x.kind, x.object, x.message])),
        ),
      )
    } else ctx.io.out(`${out.length} network${out.length === 1 ? '' : 's'} checked: records and kernel agree\n`)
    return bad.length ? 1 : 0
  },
}
