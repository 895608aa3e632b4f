// A hub on a PostgreSQL registry (EDGEFED_DATABASE_URL), end to end: a real
// PostgreSQL 15 (test/support/postgres.ts), the embedded broker. A node
// registers over HTTP and logs in to the broker with what the registry keeps;
// its heartbeat reaches the registry and a decision is numbered; a second hub
// with an empty data dir on the same database knows the node, its own key
// pair, the token, the decisions, the operators and the audit trail:
// everything lives in PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";

const unavailable = postgresUnavailable();
const HEARTBEAT = {
  seq: 1, ts: Date.now(), uptime_s: 1, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0,
  kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 },
};

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

  let hubsStarted = 0;
  /** A hub on the shared database, under an id of its own (a second process with a live one's id is refused). */
  async function hubOnPostgres(): Promise<TestHub> {
    const hub = await startTestHub({ env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: `pg-hub-${++hubsStarted}` } });
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
    test("a node registers, logs in to the broker and its heartbeat lands; decisions are numbered; a hub started afresh on the same database knows the node, the token, its own keys, the decisions, the operators and the audit trail", async () => {
      const first = await hubOnPostgres();
      const node = newNode("pg-pi-1");
      const token = await enrollmentToken();
      const registered = await first.api("POST", "/federation/register", registerBody(node), token);
      expect(registered.status).toBe(201);
      const client = await first.connectNode(registered.body.mqtt);
      await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), JSON.stringify(HEARTBEAT), { qos: 1 });
      await client.endAsync(true);
      await eventually(async () => (await first.api("GET", `/federation/nodes/${node.nodeId}`)).body.heartbeat?.count === 1, 5000, "the heartbeat in the registry");
      const freeze = await first.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { reason: "e2e" } });
      expect(freeze).toMatchObject({ status: 201, body: { seq: 1 } });
      const operator = await first.api("POST", "/api/federation/operators", { name: "alice", role: "admin" });
      expect(operator.status).toBe(201);
      await first.stop();
      hubs.splice(0);

      // Another data dir: nothing of the first hub's is there, only the database is shared.
      const second = await hubOnPostgres();
      expect(second.dataDir).not.toBe(first.dataDir);
      expect((await second.api("GET", `/federation/nodes/${node.nodeId}`)).body).toMatchObject({ node_id: node.nodeId, heartbeat: { count: 1 } });
      const resume = await second.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE" } });
      expect(resume).toMatchObject({ status: 201, body: { seq: 2 } });
      // The operator made on the first hub is known here (its verifier is in the registry) and is audited by name.
      const byAlice = await second.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { reason: "alice" } }, operator.body.token);
      expect(byAlice).toMatchObject({ status: 201, body: { seq: 3 } });
      const audit = await second.api("GET", "/api/federation/audit");
      expect(audit.body.records.map((r: { seq: number; actor: string; action: string }) => [r.seq, r.actor, r.action])).toEqual([
        [5, "alice", "decision.issue"],
        [4, "admin", "decision.issue"],
        [3, "admin", "operator.create"],
        [2, "admin", "decision.issue"],
        [1, "admin", "token.create"],
      ]);
      // Re-registration with the same key needs no use of the (used-up) token, and the hub signs with the same key.
      const again = await second.api("POST", "/federation/register", registerBody(node), token);
      expect(again.status).toBe(200);
      expect(again.body.hub_public_key).toBe(registered.body.hub_public_key);
      const tokenUsedUp = await second.api("POST", "/federation/register", registerBody(newNode("pg-pi-2")), token);
      expect(tokenUsedUp.status).toBe(401);
    });

    // Five command processes one after another, each starting Bun and opening the registry (seconds each on a loaded machine).
    const COMMANDS_BOUND_MS = 60_000;
    test("the registry commands work on PostgreSQL (EDGEFED_DATABASE_URL): an operator made from the command line is taken by a running hub, and audit verify passes on the trail both wrote", async () => {
      const hub = await hubOnPostgres();
      // A data dir of its own: nothing the commands need is in the hub's.
      const command = (...words: string[]) =>
        spawnSync(BUN, [join(REPO_ROOT, "hub/main.ts"), ...words], {
          env: { PATH: process.env.PATH, EDGEFED_DATA_DIR: tempDir(), EDGEFED_DATABASE_URL: url },
          encoding: "utf8",
          timeout: 30_000,
        });
      const created = command("operator", "create", "bob", "--role", "viewer");
      expect(created.status, created.stderr).toBe(0);
      expect((await hub.api("GET", "/federation/nodes", undefined, created.stdout.trim())).status).toBe(200);
      expect(command("operator", "list").stdout).toMatch(/^bob  viewer  created /m);
      expect(command("token", "list").status).toBe(0);
      const verified = command("audit", "verify");
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^audit trail intact: \d+ record\(s\), every hash matches/);
    }, COMMANDS_BOUND_MS);
  });
}
