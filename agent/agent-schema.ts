// The tables of the agent's store (agent.sqlite in the data dir), all in one
// versioned schema: the registry (identity, hubs, advertisement, policy,
// decisions applied), the outbox, the verdict and close feeds' cursors, the
// connectivity log and the strategy's reports. The intent journal is another file with its own schema
// (kernel/journal-schema.ts). Steps are append-only (lib/migrations.ts).
import { migrate, type Schema } from "../lib/migrations.ts";
import { openDatabase, type SqliteDatabase } from "../lib/sqlite.ts";

export const AGENT_SCHEMA: Schema = {
  name: "agent store",
  steps: [
    // 1: the registry. Agents before the numbered schema wrote this as
    // version 1 too, with the tables of step 2 beside it, unversioned.
    `
CREATE TABLE IF NOT EXISTS identity (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  node_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  sessions INTEGER NOT NULL DEFAULT 0   -- MQTT connects so far; birth's session counter
);
CREATE TABLE IF NOT EXISTS hubs (
  url TEXT PRIMARY KEY,
  hub_public_key TEXT NOT NULL,         -- pinned at registration: decisions must verify with it
  registration_id TEXT NOT NULL,
  mqtt_url TEXT NOT NULL,
  mqtt_username TEXT NOT NULL,
  mqtt_password TEXT NOT NULL,
  heartbeat_s REAL NOT NULL,
  registered_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS advertisement (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  capabilities TEXT NOT NULL,           -- JSON array
  version TEXT NOT NULL,
  arch TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS policy (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  policy TEXT NOT NULL,                 -- JSON KernelPolicy in force
  version INTEGER NOT NULL,             -- desired-policy version it came from (0: local default)
  source TEXT NOT NULL,                 -- 'default', 'decision', 'fleet' or 'node': which desired policy it follows
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions_applied (
  id TEXT PRIMARY KEY,                  -- a decision applies once, however often it is delivered
  type TEXT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT,
  applied_at INTEGER NOT NULL,
  message TEXT NOT NULL                 -- the signed decision as received
);
`,
    // 2: the tables the outbox, the verdict feed and the connectivity log used
    // to create for themselves. IF NOT EXISTS: a file of version 1 written by
    // an agent before the numbered schema usually has them already.
    `
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- publish order; never reused
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,              -- 0 or 1
  kind TEXT NOT NULL,                   -- checked in code, so a new kind needs no table rebuild
  queued_at INTEGER NOT NULL
);
-- Oldest heartbeats first, and older state/birth of a kind: both by kind then id.
CREATE INDEX IF NOT EXISTS outbox_kind_id ON outbox (kind, id);
-- The last journal seq queued for the hub.
CREATE TABLE IF NOT EXISTS verdict_cursor (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO verdict_cursor (singleton, seq) VALUES (1, 0);
-- Every change of connectivity still needed to say whether a verdict was judged online.
CREATE TABLE IF NOT EXISTS connectivity_changes (at INTEGER NOT NULL, online INTEGER NOT NULL);
`,
    // 3: outbox kinds are the protocol's topic kinds, so one name means one thing.
    `
UPDATE outbox SET kind = 'verdicts' WHERE kind = 'verdict';
UPDATE outbox SET kind = 'cmd/ack' WHERE kind = 'ack';
`,
    // 4: what the strategy process reports (protocol/reports.ts): a series'
    // latest is its newest row; strategy-reports.ts keeps the newest
    // REPORT_HISTORY of each series.
    `
CREATE TABLE strategy_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- the order they were reported in
  kind TEXT NOT NULL,                   -- 'portfolio', 'health' or 'models'
  series TEXT NOT NULL,                 -- the model of a model report, '' for the others
  ts INTEGER NOT NULL,                  -- the report's own ts (ms): increases within a series
  report TEXT NOT NULL,                 -- JSON, as published
  received_at INTEGER NOT NULL
);
CREATE INDEX strategy_reports_series ON strategy_reports (kind, series, id);
`,
    // 5: the close feed's cursor (close-feed.ts): the last journal close number
    // queued for the hub. NULL until the feed first starts, which sets it to
    // the journal's last close, so an agent upgraded to this version does not
    // send the hub the closes it recorded before.
    `
CREATE TABLE close_cursor (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), seq INTEGER);
INSERT INTO close_cursor (singleton, seq) VALUES (1, NULL);
`,
    // 6: work packages from the hub (work-runner.ts): one row per attempt
    // taken, finished_at set in the transaction that queues its result, so an
    // agent that restarts finds what it was running and reports it failed.
    `
CREATE TABLE work_jobs (
  package_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  kind TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,                  -- NULL: running (or interrupted by a restart)
  PRIMARY KEY (package_id, attempt)
);
`,
    // 7: what resuming a job after a restart needs (a resumable kind,
    // work-kinds.ts): the offer as taken and when its lease was last renewed.
    // Rows of step 6 have none: they are reported failed, as before.
    `
ALTER TABLE work_jobs ADD COLUMN offer TEXT;
ALTER TABLE work_jobs ADD COLUMN renewed_at INTEGER;
`,
  ],
};

/** Opens (creating, owner-only) an agent store file and brings it to the latest schema. */
export function openAgentDatabase(path: string): SqliteDatabase {
  const db = openDatabase(path);
  try {
    migrate(db, AGENT_SCHEMA);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
