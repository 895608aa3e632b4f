// The store contract (../store-contract.ts) on the PostgreSQL backend: a real
// PostgreSQL 15 for this file (test/support/postgres.ts), an empty schema per
// store. Skipped, saying why, only where the PostgreSQL binaries are missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { freePort } from "../../../test/helpers.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "../../../test/support/postgres.ts";
import { describeStoreContract } from "../store-contract.ts";
import { openPostgresStore } from "./postgres-store.ts";
import { migratePostgres } from "./schema.ts";

const NOW = 1_700_000_000_000;

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

  describe("PostgreSQL store: schema steps", () => {
    /** Runs `work` on a plain connection to the registry at `url` (raw SQL, as someone with the database would). */
    async function withSql<T>(url: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
      const sql = postgres(url, { onnotice: () => {} });
      try {
        return await work(sql);
      } finally {
        await sql.end();
      }
    }

    test("a step-1 registry keeps its tokens and sessions (made by no one named) and gains operators and an empty audit trail", async () => {
      const url = await server.freshRegistryUrl();
      await withSql(url, async (sql) => {
        await migratePostgres(sql, 1);
        await sql`INSERT INTO enrollment_tokens (token_hash, label, uses_left, expires_at, created_at) VALUES (${"b".repeat(64)}, 'v1', 1, NULL, ${NOW})`;
        await sql`INSERT INTO dashboard_sessions (id_hash, role, csrf_token, created_at, expires_at) VALUES ('h1', 'viewer', 'c', ${NOW}, ${NOW + 1000})`;
      });
      const upgraded = await openPostgresStore(url);
      try {
        expect((await upgraded.tokens.list(10))[0]).toMatchObject({ label: "v1", createdBy: "" });
        expect(await upgraded.sessions.get("h1", NOW)).toMatchObject({ role: "viewer", operator: "", operatorId: null });
        expect(await upgraded.operators.list()).toEqual([]);
        expect(await upgraded.audit.last()).toBeUndefined();
      } finally {
        await upgraded.close();
      }
    });

    test("a step-3 registry's nodes start with their last verdict and close numbers as floors: a redelivery from before is not new", async () => {
      const url = await server.freshRegistryUrl();
      await withSql(url, async (sql) => {
        await migratePostgres(sql, 3);
        await sql`INSERT INTO nodes (node_id, registration_id, public_key, capabilities, arch, version, password_hash, registered_at, credentials_at, health, health_since, health_cause, live)
                  VALUES ('pi-old', 'reg', 'pk', '[]', 'arm64', '0.1.0', 'h', ${NOW}, ${NOW}, 'offline', ${NOW}, 'registered',
                          ${JSON.stringify({ verdicts: { lastSeq: 7 }, closes: { lastSeq: 2 } })})`;
      });
      const upgraded = await openPostgresStore(url);
      try {
        const heard = (kind: "verdict" | "close", seq: number) => ({ nodeId: "pi-old", kind, seq, at: NOW });
        const recorded = await upgraded.write((tx) => tx.nodes.recordSequences([heard("verdict", 7), heard("verdict", 8), heard("close", 2), heard("close", 3)]));
        expect(recorded).toEqual([heard("verdict", 8), heard("close", 3)]);
      } finally {
        await upgraded.close();
      }
    });

    test("the audit trail refuses UPDATE, DELETE and TRUNCATE through SQL (append-only)", async () => {
      const url = await server.freshRegistryUrl();
      const store = await openPostgresStore(url);
      try {
        await store.write((tx) => tx.audit.append({ seq: 1, at: NOW, actor: "admin", action: "token.create", subject: "abc", detail: {}, prevHash: "", hash: "h" }));
        await withSql(url, async (sql) => {
          for (const statement of ["UPDATE audit_trail SET actor = 'mallory'", "DELETE FROM audit_trail", "TRUNCATE audit_trail"]) {
            await expect(sql.unsafe(statement)).rejects.toThrow(/append-only/);
          }
        });
        expect((await store.audit.last())?.actor).toBe("admin");
      } finally {
        await store.close();
      }
    });
  });
}
