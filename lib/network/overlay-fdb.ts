// What an overlay agent programs on a vxlan device of its host for the endpoints of the other
// hosts: static FDB entries towards their VTEPs, the all-zeros flood list, and permanent
// neighbours for proxy ARP (as Docker's overlay). Only static (`self`) FDB entries and permanent
// neighbours are touched: they are the agent's.
import type { Vxlan } from '../vxlan'
import type { OverlayEndpointRecord } from './overlay-agent'

const ZERO_MAC = '00:00:00:00:00:00'

/** Brings the device in line with `remote` (the other hosts' endpoints); how many entries it added and removed. */
export async function programVxlan(vx: Vxlan, remote: OverlayEndpointRecord[]): Promise<{ added: number; removed: number }> {
  const report = { added: 0, removed: 0 }
  const wantFdb = new Map<string, string>()
  const wantFlood = new Set<string>()
  const wantNeigh = new Map<string, string>()
  for (const r of remote) {
    wantFdb.set(r.mac, r.vtep)
    wantFlood.add(r.vtep)
    wantNeigh.set(r.ip, r.mac)
  }
  const haveFdb = new Map<string, string>()
  const haveFlood = new Set<string>()
  for (const e of await vx.fdb.list()) {
    if (!e.self || e.dst === undefined) continue
    if (e.mac === ZERO_MAC) haveFlood.add(e.dst)
    else haveFdb.set(e.mac, e.dst)
  }
  const haveNeigh = new Map<string, string>()
  for (const n of await vx.namespace.neighbours.list({ dev: vx })) if (n.state === 'permanent' && n.mac) haveNeigh.set(n.ip, n.mac)

  for (const [mac, vtep] of wantFdb) {
    if (haveFdb.get(mac) !== vtep) {
      await vx.fdb.replace({ mac, dst: vtep })
      report.added++
    }
  }
  for (const vtep of wantFlood)
    if (!haveFlood.has(vtep)) {
      await vx.fdb.append({ mac: ZERO_MAC, dst: vtep })
      report.added++
    }
  for (const [ip, mac] of wantNeigh) {
    if (haveNeigh.get(ip) !== mac) {
      await vx.namespace.neighbours.replace({ ip, mac, dev: vx })
      report.added++
    }
  }
  for (const ip of haveNeigh.keys())
    if (!wantNeigh.has(ip)) {
      await vx.namespace.neighbours.delete({ ip, dev: vx })
      report.removed++
    }
  for (const mac of haveFdb.keys())
    if (!wantFdb.has(mac)) {
      await vx.fdb.delete({ mac })
      report.removed++
    }
  for (const vtep of haveFlood)
    if (!wantFlood.has(vtep)) {
      await vx.fdb.delete({ mac: ZERO_MAC, dst: vtep })
      report.removed++
    }
  return report
}
