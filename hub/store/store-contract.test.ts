// The store contract (store-contract.ts) on the SQLite backend: a registry
// file in a fresh temp dir per test.
import { afterEach } from "bun:test";
import { cleanUp, tempDir } from "../../test/helpers.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";
import { describeStoreContract } from "./store-contract.ts";

afterEach(cleanUp);

describeStoreContract("SQLite", async (bounds) => {
  const dir = tempDir();
  return { store: openSqliteStore(dir, bounds), reopen: async () => openSqliteStore(dir, bounds) };
});
