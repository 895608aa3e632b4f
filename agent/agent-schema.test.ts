// The agent store's numbered schema: a file written before it existed (user
// version 1, outbox, cursor and connectivity tables unversioned beside the
// registry) opens and is upgraded in place, its data kept and its outbox
// kinds renamed to the topic kinds; a file of version 3 gains the strategy
// reports' table (step 4); a file from a newer agent is refused.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../lib/sqlite.ts";
import { migrate, schemaVersion } from "../lib/migrations.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { AGENT_SCHEMA } from "./agent-schema.ts";
import { AGENT_STORE_FILE, AgentStore } from "./agent-store.ts";
import { ConnectivityLog } from "./connectivity-log.ts";
import { OUTBOX_KINDS, Outbox, type OutboxKind } from "./outbox.ts";
import { StrategyReports } from "./strategy-reports.ts";
import { VerdictFeed } from "./verdict-feed.ts";

afterEach(cleanUp);

/**
 * The layout agents wrote before the numbered schema (up to commit 116b746),
 * as read back from sqlite_master of a file that code made: AgentStore's
 * tables at user_version 1, then the ones ConnectivityLog, VerdictFeed and
 * Outbox created for themselves on every start.
 */
const REGISTRY_V1 = `
CREATE TABLE identity (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), node_id TEXT NOT NULL, public_key TEXT NOT NULL,
  private_key TEXT NOT NULL, created_at INTEGER NOT NULL, sessions INTEGER NOT NULL DEFAULT 0);
CREATE TABLE hubs (url TEXT PRIMARY KEY, hub_public_key TEXT NOT NULL, registration_id TEXT NOT NULL, mqtt_url TEXT NOT NULL,
  mqtt_username TEXT NOT NULL, mqtt_password TEXT NOT NULL, heartbeat_s REAL NOT NULL, registered_at INTEGER NOT NULL);
CREATE TABLE advertisement (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), capabilities TEXT NOT NULL, version TEXT NOT NULL,
  arch TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE policy (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), policy TEXT NOT NULL, version INTEGER NOT NULL,
  source TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE decisions_applied (id TEXT PRIMARY KEY, type TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT, applied_at INTEGER NOT NULL,
  message TEXT NOT NULL);
PRAGMA user_version = 1;
`;
const CONNECTIVITY_UNVERSIONED = "CREATE TABLE connectivity_changes (at INTEGER NOT NULL, online INTEGER NOT NULL);";
const FEED_AND_OUTBOX_UNVERSIONED = `
CREATE TABLE verdict_cursor (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), seq INTEGER NOT NULL);
INSERT INTO verdict_cursor (singleton, seq) VALUES (1, 0);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload TEXT NOT NULL, qos INTEGER NOT NULL,
  retain INTEGER NOT NULL, kind TEXT NOT NULL, queued_at INTEGER NOT NULL);
CREATE INDEX outbox_kind_id ON outbox (kind, id);
`;

const NODE = "edgefed/v1/nodes/old-pi";

/** A data dir holding agent.sqlite as an agent before the numbered schema left it, with a little of everything in it. */
function oldAgentStore(options: { connectivityTable: boolean }): string {
  const dir = tempDir();
  const db = openDatabase(join(dir, AGENT_STORE_FILE));
  db.exec(REGISTRY_V1);
  if (options.connectivityTable) db.exec(CONNECTIVITY_UNVERSIONED); // agents before 2c124bf did not have it
  db.exec(FEED_AND_OUTBOX_UNVERSIONED);
  db.exec(`
    INSERT INTO identity VALUES (1, 'old-pi', 'pub-key', 'priv-key', 1000, 4);
    INSERT INTO hubs VALUES ('http://hub:8080', 'hub-key', 'reg-1', 'mqtt://hub:1883', 'old-pi', 'secret', 15, 2000);
    INSERT INTO policy VALUES (1, '{"mode":"PAUSED"}', 7, 'node', 3000);
    INSERT INTO decisions_applied VALUES ('dec_1', 'MODE_CHANGE', 1, NULL, 3000, '{}');
    UPDATE verdict_cursor SET seq = 12;
    INSERT INTO outbox (topic, payload, qos, retain, kind, queued_at) VALUES
      ('${NODE}/verdicts', '{"seq":11}', 1, 0, 'verdict', 4000),
      ('${NODE}/cmd/ack', '{"id":"dec_1"}', 1, 0, 'ack', 4001),
      ('${NODE}/heartbeat', '{"seq":3}', 0, 0, 'heartbeat', 4002),
      ('${NODE}/verdicts', '{"seq":12}', 1, 0, 'verdict', 4003);
  `);
  if (options.connectivityTable) db.exec("INSERT INTO connectivity_changes VALUES (3500, 1)");
  db.close();
  return dir;
}

/** Tables and indexes by their columns, not their SQL text (which keeps the whitespace and comments it was written with). */
function layout(db: SqliteDatabase): { type: string; name: string; columns: unknown[] }[] {
  return db
    .prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
    .all<{ type: string; name: string; tbl_name: string }>()
    .map(({ type, name }) => ({
      type,
      name,
      columns: db.prepare(type === "table" ? "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)" : "SELECT name FROM pragma_index_info(?)").all(name),
    }));
}

test("a store written before the numbered schema is upgraded in place: data kept, outbox kinds renamed, layout as a new store's", () => {
  const dir = oldAgentStore({ connectivityTable: true });
  const store = closeLater(AgentStore.open(dir));
  expect(schemaVersion(store.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(store.identity("old-pi", 9999)).toEqual({ nodeId: "old-pi", keys: { publicKey: "pub-key", privateKey: "priv-key" }, createdAt: 1000 });
  expect(store.nextSession()).toBe(5);
  expect(store.registration("http://hub:8080")).toMatchObject({ hubPublicKey: "hub-key", mqtt: { password: "secret" } });
  expect(store.policy()).toMatchObject({ version: 7, source: "node", policy: { mode: "PAUSED" } });
  expect(store.appliedDecision("dec_1")).toMatchObject({ ok: true, appliedAt: 3000 });
  expect(VerdictFeed.storedCursor(store.db)).toBe(12);
  expect(new ConnectivityLog(store.db).onlineAt(3600)).toBe(true);

  const outbox = new Outbox(store.db, { maxMessages: 100 });
  expect(outbox.peek(10).map((m) => [m.id, m.kind])).toEqual([
    [1, "verdicts"],
    [2, "cmd/ack"],
    [3, "heartbeat"],
    [4, "verdicts"],
  ]);
  // Every outbox kind of the topic table, so a new one needs no change here.
  const none = Object.fromEntries(OUTBOX_KINDS.map((kind) => [kind, 0])) as Record<OutboxKind, number>;
  expect(outbox.stats().byKind).toEqual({ ...none, heartbeat: 1, verdicts: 2, "cmd/ack": 1 });
  expect(outbox.enqueue([{ topic: `${NODE}/verdicts`, payload: "{}", qos: 1, retain: false, kind: "verdicts", queuedAt: 5000 }])).toEqual([5]);

  const fresh = closeLater(AgentStore.open(tempDir()));
  expect(layout(store.db)).toEqual(layout(fresh.db));
});

test("a store from before the connectivity log gets its table; reopening an upgraded store changes nothing", () => {
  const dir = oldAgentStore({ connectivityTable: false });
  const store = AgentStore.open(dir);
  expect(new ConnectivityLog(store.db).onlineAt(Date.now())).toBe(false);
  store.close();
  const again = closeLater(AgentStore.open(dir));
  expect(schemaVersion(again.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(again.db.prepare("SELECT kind FROM outbox ORDER BY id").all<{ kind: string }>().map((r) => r.kind)).toEqual(["verdicts", "cmd/ack", "heartbeat", "verdicts"]);
});

test("a store written by a newer agent is refused with the file and both versions named, and left as it was", () => {
  const dir = tempDir();
  AgentStore.open(dir).close();
  const raw = openDatabase(join(dir, AGENT_STORE_FILE));
  raw.exec("PRAGMA user_version = 99");
  raw.close();
  expect(() => AgentStore.open(dir)).toThrow(`${join(dir, AGENT_STORE_FILE)}: agent store schema 99 is newer than this build understands (${AGENT_SCHEMA.steps.length})`);
  const after = closeLater(openDatabase(join(dir, AGENT_STORE_FILE)));
  expect(schemaVersion(after)).toBe(99);
});

test("a store of version 3 (before strategy reports) gains their table, its data kept; reports are then kept and queued", () => {
  const dir = tempDir();
  const v3 = openDatabase(join(dir, AGENT_STORE_FILE));
  migrate(v3, { ...AGENT_SCHEMA, steps: AGENT_SCHEMA.steps.slice(0, 3) });
  v3.exec(`
    INSERT INTO identity VALUES (1, 'v3-pi', 'pub-key', 'priv-key', 1000, 2);
    INSERT INTO outbox (topic, payload, qos, retain, kind, queued_at) VALUES ('edgefed/v1/nodes/v3-pi/verdicts', '{"seq":1}', 1, 0, 'verdicts', 4000);
  `);
  expect(schemaVersion(v3)).toBe(3);
  v3.close();

  const store = closeLater(AgentStore.open(dir));
  expect(schemaVersion(store.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(store.identity("v3-pi", 9999).createdAt).toBe(1000);
  const outbox = new Outbox(store.db, { maxMessages: 100 });
  const reports = new StrategyReports(store.db, outbox, { nodeId: "v3-pi", queue: true });
  const ts = Date.now();
  reports.record(reports.check("health", [{ system_status: "HEALTHY", ess_state: "NOMINAL", ts }], ts), ts);
  expect(reports.latest().health).toEqual({ report: { system_status: "HEALTHY", ess_state: "NOMINAL", ts }, received_at: ts });
  expect(outbox.peek(10).map((m) => m.kind)).toEqual(["verdicts", "health"]);
  expect(layout(store.db)).toEqual(layout(closeLater(AgentStore.open(tempDir())).db));
});

test("a store of version 4 (before the close feed) gains its cursor, unset until the feed starts", () => {
  const dir = tempDir();
  const v4 = openDatabase(join(dir, AGENT_STORE_FILE));
  migrate(v4, { ...AGENT_SCHEMA, steps: AGENT_SCHEMA.steps.slice(0, 4) });
  v4.close();
  const store = closeLater(AgentStore.open(dir));
  expect(schemaVersion(store.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(store.db.prepare("SELECT seq FROM close_cursor").all()).toEqual([{ seq: null }]);
});

test("a store of version 5 (before work packages) gains the work jobs table, empty", () => {
  const dir = tempDir();
  const v5 = openDatabase(join(dir, AGENT_STORE_FILE));
  migrate(v5, { ...AGENT_SCHEMA, steps: AGENT_SCHEMA.steps.slice(0, 5) });
  v5.close();
  const store = closeLater(AgentStore.open(dir));
  expect(schemaVersion(store.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(store.db.prepare("SELECT count(*) AS n FROM work_jobs").get()).toEqual({ n: 0 });
});

test("a store of version 6 (before resumable work) keeps its open jobs, with no offer to resume them by", () => {
  const dir = tempDir();
  const v6 = openDatabase(join(dir, AGENT_STORE_FILE));
  migrate(v6, { ...AGENT_SCHEMA, steps: AGENT_SCHEMA.steps.slice(0, 6) });
  v6.prepare("INSERT INTO work_jobs (package_id, attempt, kind, started_at) VALUES ('wp_1', 1, 'diagnostics', 1)").run();
  v6.close();
  const store = closeLater(AgentStore.open(dir));
  expect(schemaVersion(store.db)).toBe(AGENT_SCHEMA.steps.length);
  expect(store.db.prepare("SELECT package_id, offer, renewed_at, finished_at FROM work_jobs").all()).toEqual([{ package_id: "wp_1", offer: null, renewed_at: null, finished_at: null }]);
});
