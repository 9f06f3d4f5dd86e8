// The SQLite schema of the state store. Its constraints, not read-then-write checks, make the
// wrong states impossible: a name, an address, an interface, a CNI attachment, a host port
// claimed twice fails the INSERT; an endpoint cannot outlive its network.

/** Bumped with every change of the schema below (PRAGMA user_version). */
export const SCHEMA_VERSION = 1

/**
 * Indexes added to schema version 1 after its release: created with the schema, and by
 * openDatabase() in a database made before them (IF NOT EXISTS; an index changes no answer, so
 * the version stays 1 and an older netns-kit still opens the file).
 */
export const ADDED_INDEXES = `
-- A network's own rules (masquerade, isolation: endpoint_id IS NULL) without a pass over its
-- endpoints' (networkOf reads them at every Network.open, connect and CNI ADD: 0.36 ms with
-- 1,000 published ports, 3 ms with 10,000, before this index).
CREATE INDEX IF NOT EXISTS rules_network_own ON rules (network_id, rule_id) WHERE endpoint_id IS NULL;
`

export const SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- A network: unique by name in its scope ('DEV:INO' of the host namespace, '*' for every host).
CREATE TABLE networks (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  scope       TEXT NOT NULL,
  host_dev    TEXT,
  host_ino    TEXT,
  host_path   TEXT,
  driver      TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'removing')),
  owner_pid   INTEGER NOT NULL,
  owner_start TEXT NOT NULL,
  owner_boot  TEXT NOT NULL,
  config      TEXT NOT NULL CHECK (json_valid(config)),
  labels      TEXT NOT NULL CHECK (json_valid(labels)),
  created     TEXT NOT NULL,
  UNIQUE (scope, name),
  CHECK ((scope = '*') = (host_dev IS NULL))
);
CREATE INDEX networks_intents ON networks (state) WHERE state <> 'ready';

-- One pool per family and network. first/last (32 hex digits, sortable) serve the overlap check,
-- made inside the creating transaction through pools_overlap.
CREATE TABLE pools (
  network_id  TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
  family      INTEGER NOT NULL CHECK (family IN (4, 6)),
  scope       TEXT NOT NULL,
  subnet      TEXT NOT NULL,
  gateway     TEXT NOT NULL,
  ip_range    TEXT,
  first       TEXT NOT NULL CHECK (length(first) = 32),
  last        TEXT NOT NULL CHECK (length(last) = 32 AND last >= first),
  cursor      TEXT CHECK (cursor IS NULL OR length(cursor) = 32),
  PRIMARY KEY (network_id, family)
) WITHOUT ROWID;
CREATE INDEX pools_overlap ON pools (family, first, last, scope);

-- An endpoint: its network must exist (and cannot be deleted under it); its name is unique in the
-- network without regard to case; its interface name unique in the container's namespace; its
-- CNI attachment (network, container id, ifname) unique; its host interface unique on the host.
CREATE TABLE endpoints (
  id           TEXT PRIMARY KEY,
  network_id   TEXT NOT NULL REFERENCES networks (id) ON DELETE RESTRICT,
  name         TEXT NOT NULL,
  name_key     TEXT NOT NULL,
  aliases      TEXT NOT NULL CHECK (json_valid(aliases)),
  hostname     TEXT,
  state        TEXT NOT NULL CHECK (state IN ('connecting', 'connected', 'disconnecting')),
  owner_pid    INTEGER NOT NULL,
  owner_start  TEXT NOT NULL,
  owner_boot   TEXT NOT NULL,
  ns_key       TEXT NOT NULL,
  ns_dev       TEXT NOT NULL,
  ns_ino       TEXT NOT NULL,
  ns_path      TEXT,
  ifname       TEXT NOT NULL,
  host_scope   TEXT NOT NULL,
  host_if      TEXT,
  mac          TEXT,
  container_id TEXT,
  gw_priority  INTEGER,
  gw4          INTEGER NOT NULL DEFAULT 0 CHECK (gw4 IN (0, 1) AND (gw4 = 0 OR gw_priority IS NOT NULL)),
  gw6          INTEGER NOT NULL DEFAULT 0 CHECK (gw6 IN (0, 1) AND (gw6 = 0 OR gw_priority IS NOT NULL)),
  dns          TEXT CHECK (dns IS NULL OR json_valid(dns)),
  extra_hosts  TEXT NOT NULL CHECK (json_valid(extra_hosts)),
  config       TEXT NOT NULL CHECK (json_valid(config)),
  created      TEXT NOT NULL,
  UNIQUE (network_id, name_key),
  UNIQUE (ns_key, ifname),
  UNIQUE (id, network_id)
);
CREATE UNIQUE INDEX endpoints_cni ON endpoints (network_id, container_id, ifname) WHERE container_id IS NOT NULL;
CREATE UNIQUE INDEX endpoints_host_if ON endpoints (host_scope, host_if) WHERE host_if IS NOT NULL;
-- At most one endpoint of a container provides its IPv4 (IPv6) default route.
CREATE UNIQUE INDEX endpoints_gw4 ON endpoints (ns_key) WHERE gw4 = 1;
CREATE UNIQUE INDEX endpoints_gw6 ON endpoints (ns_key) WHERE gw6 = 1;
CREATE INDEX endpoints_intents ON endpoints (state) WHERE state <> 'connected';

-- What the resolver answers: name, aliases and hostname of each endpoint, by network.
CREATE TABLE names (
  network_id  TEXT NOT NULL,
  name_key    TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  PRIMARY KEY (network_id, name_key, endpoint_id),
  FOREIGN KEY (endpoint_id, network_id) REFERENCES endpoints (id, network_id) ON DELETE CASCADE
) WITHOUT ROWID;
-- Child-key indexes: a cascade from an endpoint (or a network) finds its rows without a scan.
CREATE INDEX names_endpoint ON names (endpoint_id, network_id);

-- An address is handed out once per network; an endpoint holds at most one per family.
-- Allocations without an endpoint belong to an owner string (IPAM users, imported records).
CREATE TABLE allocations (
  network_id  TEXT NOT NULL,
  family      INTEGER NOT NULL,
  key         TEXT NOT NULL CHECK (length(key) = 32),
  address     TEXT NOT NULL,
  endpoint_id TEXT REFERENCES endpoints (id) ON DELETE CASCADE,
  owner       TEXT NOT NULL,
  allocated   TEXT NOT NULL,
  PRIMARY KEY (network_id, family, key),
  FOREIGN KEY (network_id, family) REFERENCES pools (network_id, family) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE UNIQUE INDEX allocations_endpoint ON allocations (endpoint_id, family) WHERE endpoint_id IS NOT NULL;
-- An endpoint's addresses are of its own network.
CREATE TRIGGER allocations_same_network BEFORE INSERT ON allocations WHEN NEW.endpoint_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM endpoints WHERE id = NEW.endpoint_id AND network_id = NEW.network_id)
BEGIN SELECT RAISE(ABORT, 'an allocation for an endpoint of another network'); END;
CREATE INDEX allocations_endpoint_fk ON allocations (endpoint_id);

-- A host port is published once per (host scope, protocol, address); a wildcard address also
-- excludes the specific ones of its family (checked through the key's (scope, protocol, port) prefix in the same transaction).
CREATE TABLE ports (
  scope          TEXT NOT NULL,
  protocol       TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp', 'sctp')),
  family         INTEGER NOT NULL CHECK (family IN (4, 6)),
  host_ip        TEXT NOT NULL,
  host_port      INTEGER NOT NULL CHECK (host_port BETWEEN 1 AND 65535),
  container_port INTEGER NOT NULL CHECK (container_port BETWEEN 1 AND 65535),
  endpoint_id    TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  PRIMARY KEY (scope, protocol, host_port, host_ip)
) WITHOUT ROWID;
CREATE INDEX ports_endpoint ON ports (endpoint_id);

-- Where automatic choices go on from (ports: 'port:SCOPE:PROTO').
CREATE TABLE cursors (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;

-- The nft rules (by id) a network or an endpoint owns.
CREATE TABLE rules (
  rule_id     TEXT PRIMARY KEY,
  network_id  TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
  endpoint_id TEXT REFERENCES endpoints (id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX rules_network ON rules (network_id);
CREATE INDEX rules_endpoint ON rules (endpoint_id);
${ADDED_INDEXES}

-- The change feed: one row per change of a network or endpoint, written by triggers.
CREATE TABLE changes (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK (kind IN ('network', 'endpoint')),
  id         TEXT NOT NULL,
  network_id TEXT NOT NULL
);
CREATE TRIGGER networks_ins AFTER INSERT ON networks BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('network', NEW.id, NEW.id); END;
CREATE TRIGGER networks_upd AFTER UPDATE ON networks BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('network', NEW.id, NEW.id); END;
CREATE TRIGGER networks_del AFTER DELETE ON networks BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('network', OLD.id, OLD.id); END;
CREATE TRIGGER endpoints_ins AFTER INSERT ON endpoints BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('endpoint', NEW.id, NEW.network_id); END;
CREATE TRIGGER endpoints_upd AFTER UPDATE ON endpoints BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('endpoint', NEW.id, NEW.network_id); END;
CREATE TRIGGER endpoints_del AFTER DELETE ON endpoints BEGIN INSERT INTO changes (kind, id, network_id) VALUES ('endpoint', OLD.id, OLD.network_id); END;
`
