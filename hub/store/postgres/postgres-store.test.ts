// The store contract (../store-contract.ts) on the PostgreSQL backend: a real
// PostgreSQL 15 for this file (test/support/postgres.ts), an empty schema per
// store. Skipped, saying why, only where the PostgreSQL binaries are missing.
import { afterAll, beforeAll, describe, test } from "bun:test";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "../../../test/support/postgres.ts";
import { describeStoreContract } from "../store-contract.ts";
import { openPostgresStore } from "./postgres-store.ts";

const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`PostgreSQL store (${unavailable})`, () => test("contract", () => {}));
} else {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, POSTGRES_START_BOUND_MS);
  afterAll(async () => {
    await server?.stop();
  });

  describeStoreContract("PostgreSQL", async (bounds) => {
    const url = await server.freshRegistryUrl();
    return { store: await openPostgresStore(url, bounds), reopen: () => openPostgresStore(url, bounds) };
  });
}
