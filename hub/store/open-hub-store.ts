// Opens the hub's registry with the backend the settings ask for: PostgreSQL
// when a database URL is set (EDGEFED_DATABASE_URL), else SQLite in the data
// dir, the default. Nothing that uses the store changes. Async because
// opening a networked backend (connect, migrate) is.
import type { HubStore } from "./hub-store.ts";
import { openPostgresStore } from "./postgres/postgres-store.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";

export async function openHubStore(settings: { dataDir: string; databaseUrl?: string }): Promise<HubStore> {
  if (settings.databaseUrl) return openPostgresStore(settings.databaseUrl);
  return openSqliteStore(settings.dataDir);
}
