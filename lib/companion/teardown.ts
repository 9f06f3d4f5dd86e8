// The end of an endpoint whose container died: the disconnect sequence of the store contract
// (docs/STATE-STORE.md), run by the companion as the intent's owner.
import * as fs from 'node:fs'
import type { EndpointRecord, NetworkStore } from '../ipam/network-store'
import type { Namespace } from '../namespace'
import { NETNS_RUN_DIR } from '../namespace'
import { deleteRules, deleteVeth, linkAlias } from '../network/owned'
import { removeEtcNetns } from '../etc-netns'

/** Whether the namespace an endpoint record names is gone (its path missing, or naming another namespace). */
export function nsGone(ns: { dev: string; ino: string; path?: string }): boolean {
  if (!ns.path) return false
  try {
    const st = fs.statSync(ns.path, { bigint: true })
    return String(st.ino) !== ns.ino || String(st.dev) !== ns.dev
  } catch {
    return true
  }
}

/**
 * Finishes the disconnect of `endpointId` in the host namespace `host`: the intent taken (this
 * process becomes its owner), the published map elements and the veth removed (each tolerating
 * "already gone"), the container's /etc/netns files when its named namespace is gone, then the
 * record with its addresses, ports and names. Returns the record torn down, or undefined when
 * another live process holds it or it is already gone.
 */
export async function teardownEndpoint(store: NetworkStore, host: Namespace, endpointId: string, networkName: string): Promise<EndpointRecord | undefined> {
  const s = await store.beginDisconnect(endpointId)
  if (s.status !== 'started') return undefined
  const e = s.endpoint
  await deleteRules(host, e.rules)
  if (e.hostIf) await deleteVeth(host, e.hostIf, linkAlias(networkName, e.id))
  const name = e.ns.path && pathIsNamed(e.ns.path)
  if (name && nsGone(e.ns)) await removeEtcNetns(name)
  await store.finishDisconnect(e.id)
  return e
}

function pathIsNamed(p: string): string | undefined {
  return p.startsWith(NETNS_RUN_DIR + '/') && !p.slice(NETNS_RUN_DIR.length + 1).includes('/') ? p.slice(NETNS_RUN_DIR.length + 1) : undefined
}
