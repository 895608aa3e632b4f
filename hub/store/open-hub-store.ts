// Opens the hub's registry with the backend the settings ask for: PostgreSQL
// when a database URL is set (EDGEFED_DATABASE_URL), else SQLite in the data
// dir, the default. Nothing that uses the store changes. Async because
// opening a networked backend (connect, migrate) is.
import { mkdirSync } from "node:fs";
import type { HubStore } from "./hub-store.ts";
import { openPostgresStore } from "./postgres/postgres-store.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";

export async function openHubStore(settings: { dataDir: string; databaseUrl?: string }): Promise<HubStore> {
  if (settings.databaseUrl) {
    // The data dir still holds the hub's generated token files (admin, watch, metrics); SQLite's opening makes it otherwise.
    mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
    return openPostgresStore(settings.databaseUrl);
  }
  return openSqliteStore(settings.dataDir);
}
