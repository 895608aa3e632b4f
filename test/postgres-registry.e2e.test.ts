// A hub on a PostgreSQL registry (EDGEFED_DATABASE_URL), end to end: a real
// PostgreSQL 15 (test/support/postgres.ts), the embedded broker. A node
// registers over HTTP and logs in to the broker with what the registry keeps;
// a second hub with an empty data dir on the same database knows the node,
// its own key pair and the token: everything lives in PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";

const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`hub on PostgreSQL (${unavailable})`, () => test("registry", () => {}));
} else {
  let server: RunningPostgres;
  let url: string;
  const hubs: TestHub[] = [];

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.freshRegistryUrl();
  }, POSTGRES_START_BOUND_MS);

  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => {});
    await server?.stop();
    removeTempDirs();
  });

  async function hubOnPostgres(): Promise<TestHub> {
    const hub = await startTestHub({ env: { EDGEFED_DATABASE_URL: url } });
    hubs.push(hub);
    return hub;
  }

  /** A token written into the registry as `hub token create` does (the harness's enrollmentToken() writes SQLite). */
  async function enrollmentToken(): Promise<string> {
    const store = await openPostgresStore(url);
    try {
      return await createEnrollmentToken(store, { uses: 1, ttlMs: 3_600_000, label: "e2e" }, Date.now());
    } finally {
      await store.close();
    }
  }

  describe("hub on PostgreSQL", () => {
    test("a node registers and logs in to the broker; a hub started afresh on the same database knows it, the token and its own keys", async () => {
      const first = await hubOnPostgres();
      const node = newNode("pg-pi-1");
      const token = await enrollmentToken();
      const registered = await first.api("POST", "/federation/register", registerBody(node), token);
      expect(registered.status).toBe(201);
      const client = await connectNode(registered.body.mqtt);
      expect(client.connected).toBe(true);
      await client.endAsync(true);
      expect((await first.api("GET", `/federation/nodes/${node.nodeId}`)).status).toBe(200);
      await first.stop();
      hubs.splice(0);

      // Another data dir: nothing of the first hub's is there, only the database is shared.
      const second = await hubOnPostgres();
      expect(second.dataDir).not.toBe(first.dataDir);
      expect((await second.api("GET", `/federation/nodes/${node.nodeId}`)).body).toMatchObject({ node_id: node.nodeId });
      // Re-registration with the same key needs no use of the (used-up) token, and the hub signs with the same key.
      const again = await second.api("POST", "/federation/register", registerBody(node), token);
      expect(again.status).toBe(200);
      expect(again.body.hub_public_key).toBe(registered.body.hub_public_key);
      const tokenUsedUp = await second.api("POST", "/federation/register", registerBody(newNode("pg-pi-2")), token);
      expect(tokenUsedUp.status).toBe(401);
    });
  });
}
