// The store contract (../store-contract.ts) on the PostgreSQL backend: a real
// PostgreSQL 15 for this file (test/support/postgres.ts), an empty schema per
// store. Skipped, saying why, only where the PostgreSQL binaries are missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { freePort } from "../../../test/helpers.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "../../../test/support/postgres.ts";
import { registeredNode } from "../../../test/fixtures/node-record.ts";
import { eventually } from "../../../test/support/hub-harness.ts";
import { describeStoreContract } from "../store-contract.ts";
import { FederationEventTail } from "../../federation/event-tail.ts";
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

  describe("PostgreSQL store: federation events in committed order", () => {
    test("an event whose seq is lower but whose transaction commits after a higher one's is still read, once (seq > last would skip it)", async () => {
      const store = await openPostgresStore(await server.freshRegistryUrl());
      // Two nodes: one node's events of two transactions take turns on its event count's row.
      const event = (node: string, at: number) => ({ type: "node_health" as const, node, at, state: "healthy" as const });
      try {
        await store.write(async (tx) => {
          await tx.nodes.save(registeredNode("pi-1", NOW));
          await tx.nodes.save(registeredNode("pi-2", NOW));
        });
        let commitSlow!: () => void;
        const slowMayCommit = new Promise<void>((resolve) => (commitSlow = resolve));
        let slowAdded!: () => void;
        const slowHasAdded = new Promise<void>((resolve) => (slowAdded = resolve));
        // The slow transaction takes its seq first and commits last (PostgreSQL lets a transaction wait on anything).
        const slow = store.write(async (tx) => {
          await tx.federationEvents.add([event("pi-1", NOW)]);
          slowAdded();
          await slowMayCommit;
        });
        await slowHasAdded;
        await store.write((tx) => tx.federationEvents.add([event("pi-2", NOW + 1)]));
        const [fast] = await store.federationEvents.list({ limit: 10 });
        expect(fast!.event.at).toBe(NOW + 1); // only the fast one has committed

        const whileSlowRuns = await store.federationEvents.committed({ limit: 10 });
        expect(whileSlowRuns.events).toEqual([]); // held back behind the transaction still running
        commitSlow();
        await slow;
        const bySeq = await store.federationEvents.list({ limit: 10, afterSeq: fast!.seq });
        expect(bySeq).toEqual([]); // what a seq cursor would have read next: the lower seq is lost to it
        const afterCommit = await store.federationEvents.committed({ limit: 10, after: whileSlowRuns.cursor });
        expect(afterCommit.events.map((e) => e.event.at)).toEqual([NOW, NOW + 1]);
        expect(afterCommit.events[0]!.seq).toBeLessThan(fast!.seq);
        expect((await store.federationEvents.committed({ limit: 10, after: afterCommit.cursor })).events).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });

  describe("PostgreSQL store: the federation event tail held back", () => {
    test("a transaction left open holds the tail's horizon: the tail says it is stalled (log, stalledSince), then reads on once it ends", async () => {
      const store = await openPostgresStore(await server.freshRegistryUrl());
      const lines: string[] = [];
      let tail: FederationEventTail | null = null;
      try {
        // Two nodes: one node's events of two transactions would take turns on its event count's row.
        await store.write(async (tx) => {
          await tx.nodes.save(registeredNode("pi-1", NOW));
          await tx.nodes.save(registeredNode("pi-2", NOW));
        });
        let commitOpen!: () => void;
        const openMayCommit = new Promise<void>((resolve) => (commitOpen = resolve));
        let added!: () => void;
        const openHasAdded = new Promise<void>((resolve) => (added = resolve));
        const open = store.write(async (tx) => {
          await tx.federationEvents.add([{ type: "node_health", node: "pi-1", at: NOW, state: "healthy" }]);
          added();
          await openMayCommit;
        });
        await openHasAdded;
        await store.write((tx) => tx.federationEvents.add([{ type: "node_health", node: "pi-2", at: NOW + 1, state: "offline" }])); // committed, behind the open one
        const { cursor } = await store.federationEvents.committed({ limit: 10 });
        const delivered: number[] = [];
        tail = new FederationEventTail({ store, after: cursor, deliver: (events) => delivered.push(...events.map((e) => e.at)), log: (line) => lines.push(line), everyMs: 20, stallLogAfterMs: 0 });
        await eventually(() => lines.some((line) => line.startsWith("the federation event tail is stalled")), 5000, "the stall logged");
        expect(tail.counters.stalledSince).not.toBeNull();
        expect(delivered).toEqual([]);
        commitOpen();
        await open;
        await eventually(() => delivered.length === 2, 5000, "both events read");
        expect(delivered).toEqual([NOW, NOW + 1]);
        expect(lines.some((line) => line.startsWith("the federation event tail reads on again"))).toBe(true);
        expect(tail.counters.stalledSince).toBeNull();
      } finally {
        await tail?.stop();
        await store.close();
      }
    }, 15_000);
  });

  describe("PostgreSQL store: federation events from several replicas at once", () => {
    test("two writers adding events of the same nodes in opposite orders wait for each other and both commit (no deadlock on the nodes' counts)", async () => {
      const url = await server.freshRegistryUrl();
      const [first, second] = [await openPostgresStore(url), await openPostgresStore(url)];
      const watcher = postgres(url, { onnotice: () => {} });
      const event = (node: string, at: number) => ({ type: "node_health" as const, node, at, state: "healthy" as const });
      try {
        await first.write(async (tx) => {
          await tx.nodes.save(registeredNode("pi-a", NOW));
          await tx.nodes.save(registeredNode("pi-b", NOW));
        });
        let firstHasA!: () => void;
        const aTaken = new Promise<void>((resolve) => (firstHasA = resolve));
        let secondWaits!: () => void;
        const secondWaiting = new Promise<void>((resolve) => (secondWaits = resolve));
        // First: pi-a's count, then (once the second waits) pi-b's. Second: pi-b's events before pi-a's.
        const one = first.write(async (tx) => {
          await tx.federationEvents.add([event("pi-a", NOW)]);
          firstHasA();
          await secondWaiting;
          await tx.federationEvents.add([event("pi-b", NOW + 1)]);
        });
        await aTaken;
        const two = second.write((tx) => tx.federationEvents.add([event("pi-b", NOW + 2), event("pi-a", NOW + 3)]));
        const waiting = async () => (await watcher`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)[0]!.n > 0;
        await eventually(waiting, 10_000, "the second writer waiting on pi-a's count");
        secondWaits();
        await Promise.all([one, two]);
        expect((await first.federationEvents.list({ limit: 10 })).map((e) => e.event.at).sort()).toEqual([NOW, NOW + 1, NOW + 2, NOW + 3]);
      } finally {
        await watcher.end();
        await first.close();
        await second.close();
      }
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
