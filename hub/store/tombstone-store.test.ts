// Tests for tombstones of removed nodes (tombstone-store.ts) in a real
// registry file, and the schema upgrade that brought them: a registry written
// by a version-1 hub opens, keeps its rows and gains the table.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../lib/sqlite.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openRegistry, REGISTRY_FILE, type Registry } from "./registry.ts";
import { SCHEMA_VERSION } from "./registry-schema.ts";

const NOW = 1_700_000_000_000;

function registry(dir = tempDir()): Registry {
  return closeLater(openRegistry(dir));
}

afterEach(cleanUp);

const userVersion = (r: Registry) => r.db.prepare("PRAGMA user_version").get<{ user_version: number }>()!.user_version;
const tables = (r: Registry) => r.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{ name: string }>().map((t) => t.name);

describe("TombstoneStore", () => {
  const removed = (nodeId: string, publicKey: string, removedAt = NOW) => ({ nodeId, removedAt, publicKey, readmittedAt: null });

  test("records, finds, renews, counts and deletes tombstones", () => {
    const { tombstones } = registry();
    expect(tombstones.get("pi-1")).toBeUndefined();
    expect(tombstones.count()).toBe(0);
    tombstones.put(removed("pi-1", "key-a"));
    tombstones.put(removed("pi-2", "key-b"));
    expect(tombstones.get("pi-1")).toEqual(removed("pi-1", "key-a"));
    expect(tombstones.standing("pi-1")).toEqual(removed("pi-1", "key-a"));
    tombstones.put(removed("pi-1", "key-c", NOW + 5)); // removed again after a readmission
    expect(tombstones.get("pi-1")).toEqual(removed("pi-1", "key-c", NOW + 5));
    expect(tombstones.count()).toBe(2);
    expect(tombstones.delete("pi-1")).toBe(true);
    expect(tombstones.delete("pi-1")).toBe(false);
    expect(tombstones.get("pi-1")).toBeUndefined();
    expect(tombstones.count()).toBe(1);
  });

  test("a readmission lifts the removal once, keeps the key, and a new removal stands again", () => {
    const { tombstones } = registry();
    tombstones.put(removed("pi-1", "key-a"));
    expect(tombstones.readmit("pi-1", NOW + 10)).toBe(true);
    expect(tombstones.readmit("pi-1", NOW + 20)).toBe(false); // already readmitted
    expect(tombstones.readmit("pi-9", NOW)).toBe(false); // never removed
    expect(tombstones.get("pi-1")).toEqual({ nodeId: "pi-1", removedAt: NOW, publicKey: "key-a", readmittedAt: NOW + 10 });
    expect(tombstones.standing("pi-1")).toBeUndefined();
    expect(tombstones.count()).toBe(0); // only standing removals count
    tombstones.put(removed("pi-1", "key-a", NOW + 30));
    expect(tombstones.standing("pi-1")).toEqual(removed("pi-1", "key-a", NOW + 30));
    expect(tombstones.count()).toBe(1);
  });

  test("a tombstone outlives the process: there after reopening the registry", () => {
    const dir = tempDir();
    const first = registry(dir);
    first.tombstones.put(removed("gone", "key"));
    first.tombstones.put(removed("back", "key"));
    first.tombstones.readmit("back", NOW + 1);
    first.close();
    const again = registry(dir);
    expect(again.tombstones.standing("gone")).toEqual(removed("gone", "key"));
    expect(again.tombstones.get("back")?.readmittedAt).toBe(NOW + 1);
  });
});

describe("registry schema upgrade", () => {
  test("a fresh registry is at the current version and has the tombstone table", () => {
    const r = registry();
    expect(SCHEMA_VERSION).toBe(2);
    expect(userVersion(r)).toBe(2);
    expect(tables(r)).toContain("removed_nodes");
  });

  test("a version-1 registry opens, keeps its nodes and tokens, and gains tombstones", () => {
    const dir = tempDir();
    // What a version-1 hub left: its tables with rows in them, no removed_nodes, user_version 1.
    const old = openRegistry(dir);
    const token = old.tokens.create({ uses: 3, ttlMs: null, label: "v1" }, NOW);
    old.db
      .prepare(
        `INSERT INTO nodes (node_id, registration_id, public_key, capabilities, arch, version, endpoint, password_hash,
                            registered_at, credentials_at, proof_ts, health, health_since, health_cause)
         VALUES ('pi-old', 'reg_old', 'pk', '["kernel"]', 'arm64', '0.1.0', NULL, 'hash', ?, ?, NULL, 'offline', ?, 'registered')`,
      )
      .run(NOW, NOW, NOW);
    old.db.exec("DROP TABLE removed_nodes; PRAGMA user_version = 1");
    old.close();
    const before = openDatabase(join(dir, REGISTRY_FILE));
    expect(before.prepare("PRAGMA user_version").get<{ user_version: number }>()!.user_version).toBe(1);
    expect(before.prepare("SELECT name FROM sqlite_master WHERE name = 'removed_nodes'").get()).toBeUndefined();
    before.close();

    const upgraded = registry(dir);
    expect(userVersion(upgraded)).toBe(2);
    expect(tables(upgraded)).toContain("removed_nodes");
    expect(upgraded.nodes.get("pi-old")).toMatchObject({ registrationId: "reg_old", arch: "arm64", capabilities: ["kernel"] });
    expect(upgraded.tokens.valid(token, NOW)).toMatchObject({ label: "v1", usesLeft: 3 });
    upgraded.tombstones.put({ nodeId: "pi-old", removedAt: NOW, publicKey: "pk", readmittedAt: null });
    expect(upgraded.tombstones.count()).toBe(1);
  });

  test("a registry from a newer hub is refused", () => {
    const dir = tempDir();
    const r = openRegistry(dir);
    r.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    r.close();
    expect(() => openRegistry(dir)).toThrow(/newer than this hub/);
  });
});
