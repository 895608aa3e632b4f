// The hub's own values in PostgreSQL (hub_settings: its key pair, the admin
// and watch token hashes), by key.
import type { HubValueWrites } from "../hub-store.ts";
import type { Db } from "./connection.ts";

export class PostgresHubValueTable implements HubValueWrites {
  constructor(private readonly db: Db) {}

  async get(key: string): Promise<string | undefined> {
    const [row] = await this.db<{ value: string }[]>`SELECT value FROM hub_settings WHERE key = ${key}`;
    return row?.value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.db`INSERT INTO hub_settings (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.db`DELETE FROM hub_settings WHERE key = ${key}`).count > 0;
  }
}
