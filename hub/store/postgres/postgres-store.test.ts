// The store contract (../store-contract.ts) on the PostgreSQL backend: a real
// PostgreSQL 15 for this file (test/support/postgres.ts), an empty schema per
// store. Skipped, saying why, only where the PostgreSQL binaries are missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../../../test/helpers.ts";
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

  describe("PostgreSQL store: opening", () => {
    test("a database that does not answer fails the opening with an error that says what, without the URL's password", async () => {
      const url = `postgres://edgefed:s3cret-db-pw@127.0.0.1:${await freePort()}/edgefed`;
      const failure = await openPostgresStore(url).then(
        () => new Error("opened"),
        (error: Error) => error,
      );
      expect(failure.message).toStartWith("the PostgreSQL registry (EDGEFED_DATABASE_URL) did not open: connect ECONNREFUSED 127.0.0.1:");
      expect(failure.message).not.toContain("s3cret-db-pw");
    });
  });
}
