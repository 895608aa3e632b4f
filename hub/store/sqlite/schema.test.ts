// Tests for the SQLite registry's schema upgrades (schema.ts): a registry
// written by an older hub opens, keeps its rows and gains what the newer
// versions brought (tombstones in 2, bounded health transitions in 3, the
// strategy reports' history in 4, override links and ack results in 5,
// federation events and decision origins in 6, alerts and the webhook's
// outbox in 7, the federation roles' records, latches and API-set modes in
// 8, dashboard sessions, token revocation and metric buckets in 9, work
// packages in 10, operators, the audit trail and who made tokens and
// sessions in 11); one from a newer hub is refused.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../../../lib/sqlite.ts";
import { cleanUp, closeLater, tempDir } from "../../../test/helpers.ts";
import { TRANSITIONS_KEPT_PER_NODE } from "../hub-store.ts";
import { openSqliteRegistry, REGISTRY_FILE, type SqliteRegistry } from "./sqlite-store.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import type { NodeSequence } from "../hub-store.ts";
import { workPackage } from "../work-contract.ts";

const NOW = 1_700_000_000_000;

function registry(dir = tempDir()): SqliteRegistry {
  return closeLater(openSqliteRegistry(dir));
}

afterEach(cleanUp);

const userVersion = (db: SqliteDatabase) => db.prepare("PRAGMA user_version").get<{ user_version: number }>()!.user_version;
const tables = (db: SqliteDatabase) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>().map((t) => t.name);

/** A node row as a version-1 hub wrote it. */
function insertNode(db: SqliteDatabase, nodeId: string): void {
  db.prepare(
    `INSERT INTO nodes (node_id, registration_id, public_key, capabilities, arch, version, endpoint, password_hash,
                        registered_at, credentials_at, proof_ts, health, health_since, health_cause)
     VALUES (?, 'reg_old', 'pk', '["kernel"]', 'arm64', '0.1.0', NULL, 'hash', ?, ?, NULL, 'offline', ?, 'registered')`,
  ).run(nodeId, NOW, NOW, NOW);
}

/** Leaves the registry in `dir` at `version`, as an older hub would have left it, after `setUp` wrote its rows. */
function olderRegistry(dir: string, version: number, setUp: (db: SqliteDatabase) => void): void {
  const r = openSqliteRegistry(dir);
  setUp(r.db);
  if (version < 12) r.db.exec("DROP TABLE node_sequences; DROP TABLE node_sequence_floors; ALTER TABLE nodes DROP COLUMN heard_at;");
  if (version < 11) {
    r.db.exec("DROP TABLE operators; DROP TABLE audit_trail; ALTER TABLE enrollment_tokens DROP COLUMN created_by;");
    r.db.exec("ALTER TABLE dashboard_sessions DROP COLUMN operator; ALTER TABLE dashboard_sessions DROP COLUMN operator_id;");
  }
  if (version < 2) r.db.exec("DROP TABLE removed_nodes");
  if (version < 4) r.db.exec("DROP TABLE node_reports");
  if (version < 5) r.db.exec("ALTER TABLE decisions DROP COLUMN overridden_by; ALTER TABLE decision_acks DROP COLUMN result;");
  if (version < 6) r.db.exec("DROP TABLE federation_events; DROP TABLE federation_event_counts; ALTER TABLE decisions DROP COLUMN origin;");
  if (version < 7) r.db.exec("DROP TABLE alerts; DROP TABLE alert_outbox;");
  if (version < 8) r.db.exec("DROP TABLE federation_role_decisions; DROP TABLE federation_role_conflicts; DROP TABLE federation_role_latches; DROP TABLE federation_role_modes;");
  if (version < 9) r.db.exec("DROP TABLE dashboard_sessions; DROP TABLE node_metric_buckets; ALTER TABLE enrollment_tokens DROP COLUMN revoked_at;");
  if (version < 10) r.db.exec("DROP TABLE work_packages; DROP TABLE work_attempts; DROP TABLE work_events;");
  r.db.exec(`PRAGMA user_version = ${version}`);
  r.close();
  const check = openDatabase(join(dir, REGISTRY_FILE));
  expect(userVersion(check)).toBe(version);
  check.close();
}

describe("registry schema upgrade", () => {
  test("a fresh registry is at the current version and has every table", () => {
    const r = registry();
    expect(SCHEMA_VERSION).toBe(12);
    expect(userVersion(r.db)).toBe(12);
    expect(tables(r.db)).toEqual(
      expect.arrayContaining([
        "alert_outbox",
        "alerts",
        "audit_trail",
        "operators",
        "dashboard_sessions",
        "decisions",
        "enrollment_tokens",
        "node_sequences",
        "node_sequence_floors",
        "federation_events",
        "federation_role_decisions",
        "federation_role_latches",
        "federation_role_modes",
        "health_transitions",
        "node_reports",
        "node_metric_buckets",
        "nodes",
        "removed_nodes",
        "work_attempts",
        "work_events",
        "work_packages",
      ]),
    );
  });

  test("a version-1 registry opens, keeps its nodes and tokens, and gains tombstones", async () => {
    const dir = tempDir();
    olderRegistry(dir, 1, (db) => {
      insertNode(db, "pi-old");
      db.prepare("INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at) VALUES ('h-v1', 'v1', 3, NULL, ?)").run(NOW);
    });
    const upgraded = registry(dir);
    expect(userVersion(upgraded.db)).toBe(SCHEMA_VERSION);
    expect(tables(upgraded.db)).toContain("removed_nodes");
    expect(await upgraded.nodes.get("pi-old")).toMatchObject({ registrationId: "reg_old", arch: "arm64", capabilities: ["kernel"] });
    expect(await upgraded.tokens.valid("h-v1", NOW)).toMatchObject({ label: "v1", usesLeft: 3 });
    await upgraded.tombstones.put({ nodeId: "pi-old", removedAt: NOW, publicKey: "pk", readmittedAt: null });
    expect(await upgraded.tombstones.count()).toBe(1);
  });

  test("a version-2 registry sheds the transitions of removed nodes and all but each node's newest (defect 5)", async () => {
    const dir = tempDir();
    olderRegistry(dir, 2, (db) => {
      insertNode(db, "flapper");
      insertNode(db, "steady");
      const insert = db.prepare("INSERT INTO health_transitions (node_id, from_state, to_state, at, cause) VALUES (?, 'healthy', 'offline', ?, 'flap')");
      db.transaction(() => {
        for (let i = 0; i < 3000; i++) insert.run("flapper", NOW + i);
        for (let i = 0; i < 50; i++) insert.run("removed-long-ago", NOW + i);
        insert.run("steady", NOW);
      });
    });
    const upgraded = registry(dir);
    const perNode = upgraded.db.prepare("SELECT node_id, count(*) AS n, max(at) AS newest FROM health_transitions GROUP BY node_id ORDER BY node_id").all();
    expect(perNode).toEqual([
      { node_id: "flapper", n: TRANSITIONS_KEPT_PER_NODE, newest: NOW + 2999 },
      { node_id: "steady", n: 1, newest: NOW },
    ]);
  });

  test("a version-3 registry gains the reports table; its nodes keep their live state and read back with no reports", async () => {
    const dir = tempDir();
    olderRegistry(dir, 3, (db) => {
      insertNode(db, "pi-v3");
      db.prepare("UPDATE nodes SET live = ? WHERE node_id = 'pi-v3'").run(JSON.stringify({ heartbeats: 12, lastSeen: NOW }));
    });
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("node_reports");
    const upgraded = registry(dir);
    expect(userVersion(upgraded.db)).toBe(SCHEMA_VERSION);
    const node = await upgraded.nodes.get("pi-v3");
    expect(node!.live).toMatchObject({ heartbeats: 12, lastSeen: NOW, reports: { portfolio: null, health: null, models: [], duplicates: 0 } });
    const health = { system_status: "HEALTHY", ess_state: "NOMINAL", ts: NOW } as const;
    await upgraded.reports.add([{ nodeId: "pi-v3", kind: "health", report: health, receivedAt: NOW + 1 }]);
    expect(await upgraded.reports.history("pi-v3", "health", { limit: 10 })).toEqual([{ seq: 1, nodeId: "pi-v3", kind: "health", report: health, receivedAt: NOW + 1 }]);
  });

  test("a version-4 registry keeps its decisions and acks, none overridden, none with a result", async () => {
    const dir = tempDir();
    olderRegistry(dir, 4, (db) => {
      const message = { id: "dec_old00001", seq: 1, type: "FREEZE", target: "fleet", payload: {}, issuedAt: NOW, expiresAt: NOW + 1, sig: "s" };
      db.prepare("INSERT INTO decisions (seq, id, type, target, message, targets, issued_at, expires_at) VALUES (1, ?, 'FREEZE', 'fleet', ?, '[\"pi-old\"]', ?, ?)").run(
        message.id,
        JSON.stringify(message),
        NOW,
        NOW + 1,
      );
      db.prepare("INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at) VALUES (?, 'pi-old', 1, NULL, ?, ?)").run(message.id, NOW, NOW);
    });
    const upgraded = registry(dir);
    expect(await upgraded.decisions.get("dec_old00001")).toMatchObject({
      overriddenBy: null,
      acks: [{ nodeId: "pi-old", ok: true, error: null, result: null }],
    });
    expect(await upgraded.decisions.setOverriddenBy("dec_old00001", "dec_new00002")).toBe(true);
  });

  test("a version-5 registry's decisions were all an operator's, and it gains the federation events", async () => {
    const dir = tempDir();
    olderRegistry(dir, 5, (db) => {
      insertNode(db, "pi-v5");
      const message = { id: "dec_v5000001", seq: 1, type: "FREEZE", target: "fleet", payload: {}, issuedAt: NOW, expiresAt: NOW + 1, sig: "s" };
      db.prepare("INSERT INTO decisions (seq, id, type, target, message, targets, issued_at, expires_at) VALUES (1, ?, 'FREEZE', 'fleet', ?, '[]', ?, ?)").run(
        message.id,
        JSON.stringify(message),
        NOW,
        NOW + 1,
      );
    });
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("federation_events");
    const upgraded = registry(dir);
    expect((await upgraded.decisions.get("dec_v5000001"))!.origin).toEqual({ kind: "operator" });
    const event = { type: "node_health", node: "pi-v5", at: NOW, state: "healthy" } as const;
    await upgraded.federationEvents.add([event]);
    expect(await upgraded.federationEvents.list({ limit: 10 })).toEqual([{ seq: 1, event }]);
  });

  test("a version-6 registry keeps its events and gains the alerts and the webhook's outbox, empty", async () => {
    const dir = tempDir();
    olderRegistry(dir, 6, (db) => insertNode(db, "pi-v6"));
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("alerts");
    const upgraded = registry(dir);
    expect(await upgraded.nodes.get("pi-v6")).toBeDefined();
    expect(await upgraded.alerts.lastSeq()).toBe(0);
    const alert = { seq: 1, severity: "high", kind: "node_offline", subject: "pi-v6", message: "pi-v6 went offline", at: NOW, delivery: "queued" } as const;
    await upgraded.alerts.add(alert);
    expect(await upgraded.alerts.list({ limit: 10 })).toEqual([alert]);
    expect((await upgraded.alerts.outbox(10)).map((e) => e.alert.seq)).toEqual([1]);
  });

  test("a version-7 registry keeps its federation events and gains the roles' tables, empty", async () => {
    const dir = tempDir();
    const event = { type: "node_health", node: "pi-v7", at: NOW, state: "healthy" } as const;
    olderRegistry(dir, 7, (db) => {
      insertNode(db, "pi-v7");
      db.prepare("INSERT INTO federation_events (node_id, type, at, event) VALUES ('pi-v7', 'node_health', ?, ?)").run(NOW, JSON.stringify(event));
    });
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("federation_role_decisions");
    const upgraded = registry(dir);
    expect(userVersion(upgraded.db)).toBe(SCHEMA_VERSION);
    expect(await upgraded.federationEvents.list({ limit: 10 })).toEqual([{ seq: 1, event }]);
    expect(await upgraded.federationRoles.decisions({ limit: 10 })).toEqual([]);
    expect(await upgraded.federationRoles.latches()).toEqual([]);
    expect(await upgraded.federationRoles.modes()).toEqual([]);
  });

  test("a version-8 registry keeps its tokens, none revoked, and gains sessions and metric buckets", async () => {
    const dir = tempDir();
    olderRegistry(dir, 8, (db) => {
      insertNode(db, "pi-v8");
      db.prepare("INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at) VALUES (?, 'v8', 2, NULL, ?)").run("a".repeat(64), NOW);
    });
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("dashboard_sessions");
    const upgraded = registry(dir);
    expect(await upgraded.tokens.list(10)).toEqual([{ id: "a".repeat(12), label: "v8", usesLeft: 2, expiresAt: null, createdAt: NOW, createdBy: "", registrations: 0, revokedAt: null }]);
    await upgraded.sessions.add({ idHash: "h", role: "admin", operator: "admin", operatorId: null, csrfToken: "c", createdAt: NOW, expiresAt: NOW + 1 });
    expect((await upgraded.sessions.get("h", NOW))?.role).toBe("admin");
    await upgraded.metricBuckets.add([{ nodeId: "pi-v8", at: 0, load: 1, rssBytes: 2, outboxDepth: 3, verdicts: { PASS: 1, HOLD: 0 }, byReason: {} }]);
    expect(await upgraded.metricBuckets.list("pi-v8", 0)).toHaveLength(1);
  });

  test("a version-9 registry gains the work packages, empty", async () => {
    const dir = tempDir();
    olderRegistry(dir, 9, (db) => insertNode(db, "pi-v9"));
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("work_packages");
    const upgraded = registry(dir);
    expect(await upgraded.nodes.get("pi-v9")).toBeDefined();
    expect(await upgraded.work.active()).toEqual([]);
    const pkg = await upgraded.work.add(workPackage("wp_v9"));
    expect(pkg).toMatchObject({ seq: 1, state: "queued" });
  });

  test("a version-10 registry keeps its tokens and sessions (made by no one named) and gains operators and an empty audit trail", async () => {
    const dir = tempDir();
    olderRegistry(dir, 10, (db) => {
      db.prepare("INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at) VALUES (?, 'v10', 1, NULL, ?)").run("b".repeat(64), NOW);
      db.prepare("INSERT INTO dashboard_sessions (id_hash, role, csrf_token, created_at, expires_at) VALUES ('h9', 'viewer', 'c', ?, ?)").run(NOW, NOW + 1000);
    });
    expect(tables(closeLater(openDatabase(join(dir, REGISTRY_FILE))))).not.toContain("audit_trail");
    const upgraded = registry(dir);
    expect((await upgraded.tokens.list(10))[0]).toMatchObject({ label: "v10", createdBy: "" });
    expect(await upgraded.sessions.get("h9", NOW)).toMatchObject({ role: "viewer", operator: "", operatorId: null });
    expect(await upgraded.operators.list()).toEqual([]);
    expect(await upgraded.audit.last()).toBeUndefined();
  });

  test("a version-11 registry's nodes start with their last verdict and close numbers as floors: a redelivery from before is not new", async () => {
    const dir = tempDir();
    olderRegistry(dir, 11, (db) => {
      insertNode(db, "pi-old");
      db.prepare("UPDATE nodes SET live = ? WHERE node_id = 'pi-old'").run(JSON.stringify({ verdicts: { lastSeq: 7 }, closes: { lastSeq: 2 } }));
    });
    const upgraded = registry(dir);
    const heard: NodeSequence[] = [7, 8].map((seq) => ({ nodeId: "pi-old", kind: "verdict", seq, at: NOW }));
    heard.push({ nodeId: "pi-old", kind: "close", seq: 2, at: NOW }, { nodeId: "pi-old", kind: "close", seq: 3, at: NOW });
    expect(await upgraded.nodes.recordSequences(heard)).toEqual([heard[1]!, heard[3]!]);
  });

  test("the audit trail refuses UPDATE and DELETE through SQL (append-only)", async () => {
    const r = registry(tempDir());
    await r.audit.append({ seq: 1, at: NOW, actor: "admin", action: "token.create", subject: "abc", detail: {}, prevHash: "", hash: "h" });
    expect(() => r.db.exec("UPDATE audit_trail SET actor = 'mallory'")).toThrow(/append-only/);
    expect(() => r.db.exec("DELETE FROM audit_trail")).toThrow(/append-only/);
    expect((await r.audit.last())?.actor).toBe("admin");
  });

  test("a registry from a newer hub is refused", () => {
    const dir = tempDir();
    const r = openSqliteRegistry(dir);
    r.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    r.close();
    expect(() => openSqliteRegistry(dir)).toThrow(/newer than this hub/);
  });
});
