// A NetworkStore in memory, for tests: the KV logic of the etcd store over a Map with revisions.
import { MemoryKv } from './kv'
import { KvNetworkStore, type KvNetworkStoreOptions } from './kv-store'

/**
 * NetworkStore in this process's memory (tests, examples): the same records, intents,
 * uniqueness and change feed as SqliteStore, as optimistic transactions over a revisioned map.
 * Not shared between processes; gone when the process exits.
 */
export class MemoryNetworkStore extends KvNetworkStore {
  constructor(opts: KvNetworkStoreOptions = {}) {
    super(new MemoryKv(), opts)
  }
}
