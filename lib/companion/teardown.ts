// The end of an endpoint whose container died, finished by the companion: the same disconnect
// sequence and kernel teardown as Network.disconnect (lib/network/teardown.ts), the container's
// /etc/netns files with it.
import * as fs from 'node:fs'
import type { NetworkStore } from '../ipam/network-store'
import type { Namespace } from '../namespace'
import { bridgeConfig } from '../network/state'
import { disconnectSequence, teardownBridgeEndpoint } from '../network/teardown'
import { etcFilesAfter } from '../network/etc-files'

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
 * Disconnects endpoint `endpointId` of a bridge network in the host namespace `host`, as
 * Network.disconnect does (this process becomes the intent's owner; a live process's intent is
 * waited for), bringing its container's /etc/netns files up to date while its record is still
 * there (see etcFilesAfter). Returns whether this call removed it.
 */
export async function teardownEndpoint(store: NetworkStore, host: Namespace, endpointId: string): Promise<boolean> {
  let removed = false
  await disconnectSequence(store, endpointId, async (ep) => {
    const net = await store.network(ep.networkId)
    if (!net) return
    await teardownBridgeEndpoint(host, net.name, bridgeConfig(net), ep)
    await etcFilesAfter(store, ep.ns, ep.id)
    removed = true
  })
  return removed
}
