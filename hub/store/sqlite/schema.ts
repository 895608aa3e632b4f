// The hub registry's tables. `user_version` numbers the schema so a later
// release can migrate a registry written by this one: SCHEMA is version 1,
// and each later version is one step in UPGRADES, run in order on a registry
// that is behind (a fresh one goes through all of them).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import { TRANSITIONS_KEPT_PER_NODE } from "../hub-store.ts";

export const SCHEMA_VERSION = 12;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hub_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrollment_tokens (
  token_hash TEXT PRIMARY KEY,     -- sha256 of the token; the token itself is never stored
  label TEXT NOT NULL,
  uses_left INTEGER,               -- NULL: unlimited
  expires_at INTEGER,              -- ms since the epoch; NULL: never
  created_at INTEGER NOT NULL,
  registrations INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS nodes (
  node_id TEXT PRIMARY KEY,
  registration_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  capabilities TEXT NOT NULL,      -- JSON array
  arch TEXT NOT NULL,
  version TEXT NOT NULL,
  endpoint TEXT,
  password_hash TEXT NOT NULL,     -- sha256 of the node's MQTT password
  registered_at INTEGER NOT NULL,
  credentials_at INTEGER NOT NULL, -- when the current password was issued
  proof_ts INTEGER,                -- ts of the last accepted registration proof; a proof must be newer (no replay)
  health TEXT NOT NULL,
  health_since INTEGER NOT NULL,
  health_cause TEXT NOT NULL,
  live TEXT NOT NULL DEFAULT '{}'  -- JSON: what birth, state, heartbeats and verdicts last said
);
CREATE TABLE IF NOT EXISTS health_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  at INTEGER NOT NULL,
  cause TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS health_transitions_node ON health_transitions (node_id, id);
CREATE TABLE IF NOT EXISTS decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  message TEXT NOT NULL,           -- the signed decision exactly as published
  targets TEXT NOT NULL,           -- JSON array of the node ids it was sent to
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS decision_acks (
  decision_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT,
  applied_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (decision_id, node_id)
);
CREATE TABLE IF NOT EXISTS desired_policies (
  target TEXT PRIMARY KEY,         -- 'fleet' or a node id
  version INTEGER NOT NULL,
  message TEXT NOT NULL            -- the signed DesiredPolicyMessage as published (retained)
);
`;

/** UPGRADES[n] takes a registry from version n - 1 to n. */
const UPGRADES: Record<number, string> = {
  // 2: tombstones. DELETE /federation/nodes/:id leaves one, and a node id with
  // a tombstone cannot register until an operator readmits it.
  2: `
CREATE TABLE IF NOT EXISTS removed_nodes (
  node_id TEXT PRIMARY KEY,
  removed_at INTEGER NOT NULL,     -- ms since the epoch
  public_key TEXT NOT NULL,        -- the key it was registered with; once readmitted, that key comes back without a token use
  readmitted_at INTEGER            -- NULL: removed, registration refused; else readmitted, the row goes when it registers
);
`,
  // 3: health transitions are kept per node up to TRANSITIONS_KEPT_PER_NODE
  // and go with their node. Hubs before this kept every one, also of nodes
  // long removed: those go now, and each node keeps its newest.
  3: `
DELETE FROM health_transitions WHERE node_id NOT IN (SELECT node_id FROM nodes);
DELETE FROM health_transitions WHERE id IN (
  SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY node_id ORDER BY id DESC) AS newness FROM health_transitions)
  WHERE newness > ${TRANSITIONS_KEPT_PER_NODE}
);
`,
  // 4: what each node's strategy reports (protocol/reports.ts), the newest
  // REPORT_HISTORY of each series; the latest of each is also in the node's
  // live view (nodes.live).
  4: `
CREATE TABLE IF NOT EXISTS node_reports (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  node_id TEXT NOT NULL,
  kind TEXT NOT NULL,              -- 'portfolio', 'health' or 'models'
  series TEXT NOT NULL,            -- the model of a model report, '' for the others
  report TEXT NOT NULL,            -- JSON as the node sent it
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS node_reports_series ON node_reports (node_id, kind, series, seq);
`,
  // 5: OVERRIDE and RESEARCH_TASK (issue 11). A decision an OVERRIDE reversed
  // names it, and a node's ack may carry what its research task found.
  5: `
ALTER TABLE decisions ADD COLUMN overridden_by TEXT;   -- the id of the OVERRIDE that reversed it; NULL: in force
ALTER TABLE decision_acks ADD COLUMN result TEXT;      -- JSON object: a RESEARCH_TASK's result; NULL: none
`,
  // 6: the federation roles (issue 12). What the hub observed of its fleet,
  // in the order observed (protocol/federation-events.ts), kept a week and
  // at most FEDERATION_EVENTS_KEPT_PER_NODE a node (counted per node in
  // federation_event_counts, so trimming never walks a node's events); and
  // who made each decision. Every decision before this was an operator's.
  6: `
CREATE TABLE federation_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, -- observation order
  node_id TEXT NOT NULL,
  type TEXT NOT NULL,
  at INTEGER NOT NULL,             -- the hub's time of observation (ms)
  event TEXT NOT NULL              -- the FederationEvent as JSON
);
CREATE INDEX federation_events_node ON federation_events (node_id, seq);
CREATE INDEX federation_events_at ON federation_events (at);
CREATE TABLE federation_event_counts (
  node_id TEXT PRIMARY KEY,
  events INTEGER NOT NULL
);
ALTER TABLE decisions ADD COLUMN origin TEXT NOT NULL DEFAULT '{"kind":"operator"}'; -- JSON DecisionOrigin
`,
  // 7: alerts (issue 13), kept in the registry rather than in memory, with
  // what became of each with the webhook; the outbox holds the posts not yet
  // delivered, read in seq order, so a restart neither loses nor repeats one.
  7: `
CREATE TABLE alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, -- numbered by the hub in the order raised
  severity TEXT NOT NULL,          -- critical, high, medium, low
  kind TEXT NOT NULL,              -- a lowercase word: node_offline, fleet_frozen, ...
  subject TEXT NOT NULL,           -- what it is about (node id, 'fleet', decision id); kind and subject dedup posts
  message TEXT NOT NULL,
  at INTEGER NOT NULL,             -- ms
  delivery TEXT NOT NULL           -- with the webhook: none, queued, delivered, deduplicated, held, summarised, failed
);
CREATE INDEX alerts_at ON alerts (at);
CREATE INDEX alerts_held ON alerts (delivery) WHERE delivery = 'held';
CREATE TABLE alert_outbox (
  alert_seq INTEGER PRIMARY KEY,   -- the alert to post; posted in this order
  attempts INTEGER NOT NULL,       -- failed attempts so far
  next_attempt_at INTEGER NOT NULL -- ms; not before
);
`,
  // 8: what the federation roles did and where they stand, so a restarted
  // hub goes on from there (issue 12): their decision records (issued and
  // advisory) and conflicts, the newest FEDERATION_ROLE_RECORDS_KEPT of
  // each; each rule's latch (one row per rule and target); the modes set
  // through the admin API, with the file's mode when set (the file wins
  // once it changes that mode).
  8: `
CREATE TABLE federation_role_decisions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, -- the order decided
  id TEXT NOT NULL UNIQUE,         -- the engine's id (fed-N)
  at INTEGER NOT NULL,             -- the engine's time of the decision (ms)
  record TEXT NOT NULL             -- JSON: the decision record, with decision_id or issue_error once issued
);
CREATE INDEX federation_role_decisions_at ON federation_role_decisions (at);
CREATE TABLE federation_role_conflicts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  record TEXT NOT NULL             -- JSON: the conflict record (both sides)
);
CREATE INDEX federation_role_conflicts_at ON federation_role_conflicts (at);
CREATE TABLE federation_role_latches (
  rule TEXT NOT NULL,              -- "role/rule"
  target TEXT NOT NULL,            -- "fleet", a node id, or what the rule latches on (e.g. "model:m1")
  latch TEXT NOT NULL,             -- JSON: {level, since, value?}
  PRIMARY KEY (rule, target)
);
CREATE TABLE federation_role_modes (
  role TEXT PRIMARY KEY,
  mode TEXT NOT NULL,              -- set through PUT /api/federation/roles/:name
  file_mode TEXT NOT NULL,         -- the config file's mode for the role then
  set_at INTEGER NOT NULL
);
`,
  // 9: the dashboard (issue 13). Its login sessions, by the hash of their id
  // (so a hub restart keeps them; expired ones are pruned); enrollment tokens
  // an operator revoked; and each node's heartbeat metrics and verdicts in
  // 1-minute buckets, kept 24 hours (WITHOUT ROWID: the key is the row, so a
  // node's range reads in key order and a bucket costs no second index).
  9: `
CREATE TABLE dashboard_sessions (
  id_hash TEXT PRIMARY KEY,        -- sha256 of the session id; the id itself is only in the browser's cookie
  role TEXT NOT NULL,              -- 'admin' or 'viewer'
  csrf_token TEXT NOT NULL,        -- the synchronizer token state-changing requests echo
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
ALTER TABLE enrollment_tokens ADD COLUMN revoked_at INTEGER;  -- NULL: not revoked
CREATE TABLE node_metric_buckets (
  node_id TEXT NOT NULL,
  minute INTEGER NOT NULL,         -- minutes since the epoch
  load REAL,                       -- the last 1-minute load heard in it
  rss_bytes INTEGER,
  outbox_depth INTEGER,
  pass INTEGER NOT NULL,
  hold INTEGER NOT NULL,
  by_reason TEXT,                  -- JSON {reason: n}; NULL: none
  PRIMARY KEY (node_id, minute)
) WITHOUT ROWID;
`,
  // 10: work packages (issue 15). A package's current state with its lease
  // and outcome; one row per attempt (the fencing number and who held it);
  // and every transition, with refused late messages, as its history.
  10: `
CREATE TABLE work_packages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, -- submit order, the list's cursor
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,           -- JSON object
  requires TEXT NOT NULL,          -- JSON array of capabilities
  target TEXT NOT NULL,            -- 'any' or a node id
  strategy TEXT NOT NULL,
  group_id TEXT,                   -- a fleet submit's packages share it
  deadline_at INTEGER,             -- ms; NULL: none
  lease_ms INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  idempotency_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  node_id TEXT,                    -- who holds or last held it
  attempt INTEGER NOT NULL DEFAULT 0, -- the fencing number; 0: never leased
  lease_expires_at INTEGER,
  progress REAL,
  result TEXT,                     -- JSON object
  error TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX work_packages_active ON work_packages (state) WHERE state IN ('queued', 'leased', 'running');
CREATE INDEX work_packages_group ON work_packages (group_id) WHERE group_id IS NOT NULL;
CREATE TABLE work_attempts (
  package_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  node_id TEXT NOT NULL,
  leased_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT,                    -- succeeded, failed, lease_expired, expired, cancelled; NULL while it runs
  error TEXT,
  PRIMARY KEY (package_id, attempt)
);
CREATE TABLE work_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  package_id TEXT NOT NULL,
  at INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT,                   -- NULL: a message refused (late or stale), nothing changed
  attempt INTEGER NOT NULL,
  node_id TEXT,
  cause TEXT NOT NULL
);
CREATE INDEX work_events_package ON work_events (package_id, seq);
`,
  // 11: operators and the audit trail (issue 14). Named admin and viewer
  // tokens, each kept as a salted scrypt verifier; who made each enrollment
  // token and opened each dashboard session; and the audit trail, append-only
  // (the triggers refuse an UPDATE or DELETE through the hub; someone with the
  // file can drop them, which is what the hash chain is for: each record
  // carries the hash of the one before, and `audit verify` walks it).
  11: `
CREATE TABLE operators (
  id TEXT PRIMARY KEY,             -- public, random; the token is efo_<id>_<secret>
  name TEXT NOT NULL,
  role TEXT NOT NULL,              -- 'admin' or 'viewer'
  verifier TEXT NOT NULL,          -- scrypt$... of the current token's sha256; the token itself is never stored
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  rotated_at INTEGER,
  revoked_at INTEGER               -- NULL: in force
);
CREATE UNIQUE INDEX operators_active_name ON operators (name) WHERE revoked_at IS NULL;
ALTER TABLE enrollment_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE dashboard_sessions ADD COLUMN operator TEXT NOT NULL DEFAULT '';
ALTER TABLE dashboard_sessions ADD COLUMN operator_id TEXT;  -- NULL: opened with the hub's own admin or watch token
CREATE TABLE audit_trail (
  seq INTEGER PRIMARY KEY,         -- 1, 2, 3 ... without gaps
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL,            -- JSON object
  prev_hash TEXT NOT NULL,         -- the hash of record seq - 1; '' for the first
  hash TEXT NOT NULL               -- sha256 of the record's canonical JSON (hub/audit/audit-chain.ts)
);
CREATE TRIGGER audit_trail_no_update BEFORE UPDATE ON audit_trail BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_trail_no_delete BEFORE DELETE ON audit_trail BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`,
  // 12: each verdict's and close's number recorded once per node, with each
  // node's floor (what pruning forgot): PostgreSQL's step 6, where several
  // replicas share the registry. One hub on SQLite never reads them (its
  // memory is the only writer), but the tables are the same in both. And
  // nodes.heard_at, PostgreSQL's too (the replicas' health sweep reads it).
  12: `
ALTER TABLE nodes ADD COLUMN heard_at INTEGER;
CREATE TABLE node_sequences (
  node_id TEXT NOT NULL,
  kind TEXT NOT NULL,               -- 'verdict', 'close', or a report series ('report:portfolio', 'report:models:<name>'), seq its ts
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (node_id, kind, seq)
) WITHOUT ROWID;
CREATE INDEX node_sequences_at ON node_sequences (at);
CREATE TABLE node_sequence_floors (
  node_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  floor_seq INTEGER NOT NULL,
  PRIMARY KEY (node_id, kind)
);
INSERT INTO node_sequence_floors (node_id, kind, floor_seq)
  SELECT node_id, 'verdict', COALESCE(json_extract(live, '$.verdicts.lastSeq'), 0) FROM nodes
  UNION ALL
  SELECT node_id, 'close', COALESCE(json_extract(live, '$.closes.lastSeq'), 0) FROM nodes;
`,
};

export function migrateRegistry(db: SqliteDatabase): void {
  const row = db.prepare("PRAGMA user_version").get<{ user_version: number }>();
  const version = row?.user_version ?? 0;
  if (version > SCHEMA_VERSION) {
    throw new Error(`registry ${db.path} has schema ${version}, newer than this hub (${SCHEMA_VERSION}); upgrade the hub`);
  }
  if (version === SCHEMA_VERSION) return;
  // All or nothing: a hub killed mid-upgrade leaves the registry as it was.
  db.transaction(() => {
    db.exec(SCHEMA);
    for (let next = Math.max(version, 1) + 1; next <= SCHEMA_VERSION; next++) db.exec(UPGRADES[next]!);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}
