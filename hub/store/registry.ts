// Opens the hub's registry (one SQLite file in the data dir) and hands out
// the stores over it. Writes that the hub acknowledges go through group
// commit with synchronous=FULL, so an acknowledged registration survives a
// power cut.
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../../lib/sqlite.ts";
import { DecisionStore } from "./decision-store.ts";
import { GroupCommit } from "./group-commit.ts";
import { NodeStore } from "./node-store.ts";
import { migrateRegistry } from "./registry-schema.ts";
import { TokenStore } from "./token-store.ts";
import { TombstoneStore } from "./tombstone-store.ts";

export interface Registry {
  db: SqliteDatabase;
  nodes: NodeStore;
  tokens: TokenStore;
  /** Removed node ids, refused at registration until readmitted. */
  tombstones: TombstoneStore;
  decisions: DecisionStore;
  group: GroupCommit;
  setting(key: string): string | undefined;
  saveSetting(key: string, value: string): void;
  close(): void;
}

export const REGISTRY_FILE = "registry.sqlite";

export function openRegistry(dataDir: string): Registry {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700); // holds the hub's private key
  const db = openDatabase(join(dataDir, REGISTRY_FILE));
  migrateRegistry(db);
  return {
    db,
    nodes: new NodeStore(db),
    tokens: new TokenStore(db),
    tombstones: new TombstoneStore(db),
    decisions: new DecisionStore(db),
    group: new GroupCommit(db),
    setting: (key) => db.prepare("SELECT value FROM hub_settings WHERE key = ?").get<{ value: string }>(key)?.value,
    saveSetting: (key, value) =>
      db.prepare("INSERT INTO hub_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value),
    close: () => db.close(),
  };
}
