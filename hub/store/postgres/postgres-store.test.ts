// The store contract (../store-contract.ts) on the PostgreSQL backend: a real
// PostgreSQL 15 for this file (test/support/postgres.ts), a fresh database per
// store. Skipped, saying why, only where the PostgreSQL binaries are missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { postgresUnavailable, startPostgres, type RunningPostgres } from "../../../test/support/postgres.ts";
import { describeStoreContract } from "../store-contract.ts";
import { missingPostgresParts, openPostgresStore, openPostgresStoreParts } from "./postgres-store.ts";

const unavailable = postgresUnavailable();
let server: RunningPostgres;

if (unavailable) {
  describe.skip(`PostgreSQL store (${unavailable})`, () => test("contract", () => {}));
} else {
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const missing = new Set(missingPostgresParts());
  describeStoreContract(
    "PostgreSQL",
    async (bounds) => {
      const url = await server.freshRegistryUrl();
      return { store: await openPostgresStoreParts(url, bounds), reopen: () => openPostgresStoreParts(url, bounds) };
    },
    (part) => !missing.has(part),
  );

  describe("PostgreSQL store: opening", () => {
    test.skipIf(missing.size === 0)("refuses to open while a part of the registry is missing, naming it", async () => {
      const url = await server.freshRegistryUrl();
      await expect(openPostgresStore(url)).rejects.toThrow(`missing: ${[...missing].join(", ")}`);
    });
  });
}
