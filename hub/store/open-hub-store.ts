// Opens the hub's registry with the backend the settings ask for. Today that
// is always SQLite in the data dir; a second backend (PostgreSQL) is chosen
// here, and nothing that uses the store changes. Async because opening a
// networked backend (connect, migrate) is.
import type { HubStore } from "./hub-store.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";

export async function openHubStore(settings: { dataDir: string }): Promise<HubStore> {
  return openSqliteStore(settings.dataDir);
}
