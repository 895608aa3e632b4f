// The hub's own values in SQLite (hub_settings: its key pair, the admin and
// watch token hashes), by key.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { HubValueWrites } from "../hub-store.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteHubValueTable implements HubValueWrites {
  private readonly selectOne;
  private readonly upsert;
  private readonly deleteOne;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare("SELECT value FROM hub_settings WHERE key = ?");
    this.upsert = db.prepare("INSERT INTO hub_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    this.deleteOne = db.prepare("DELETE FROM hub_settings WHERE key = ?");
  }

  async get(key: string): Promise<string | undefined> {
    return this.selectOne.get<{ value: string }>(key)?.value;
  }

  async put(key: string, value: string): Promise<void> {
    this.upsert.run(key, value);
  }

  async delete(key: string): Promise<boolean> {
    return this.deleteOne.run(key).changes > 0;
  }
}
