// The dashboard's fleet list over real HTTP against a real hub whose registry
// holds 10,000 nodes (seeded into the store before the hub starts): search,
// filters, sorts, paging by offset and by `after`, the fleet's counts by
// health, and the row's fields.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { emptyLive, HEALTH_STATES, type NodeRecord } from "../hub/nodes/node-model.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { registeredNode } from "./fixtures/node-record.ts";
import { cleanUp, tempDir } from "./helpers.ts";
import { dashboardLogin } from "./support/dashboard-client.ts";
import { startTestHub, type TestHub } from "./support/hub-harness.ts";

const FLEET = 10_000;
const NOW = Date.now();
let hub: TestHub;

/** Node i: pi-00000..pi-09999; health cycles through the four states; every 10th has the gpu capability; every 7th was never heard. */
function seededNode(i: number): NodeRecord {
  const live = emptyLive();
  if (i % 7 !== 0) {
    live.lastSeen = NOW - i * 1000;
    live.lastHeartbeatAt = NOW - i * 1000;
    live.outboxDepth = (i * 37) % 1000;
    live.mode = "LIVE";
    live.connectivity = "online";
  }
  return registeredNode(`pi-${String(i).padStart(5, "0")}`, NOW - 86_400_000, {
    health: HEALTH_STATES[i % 4]!,
    healthCause: `seeded ${HEALTH_STATES[i % 4]}`,
    capabilities: i % 10 === 0 ? ["kernel", "gpu"] : ["kernel"],
    version: `1.${i % 3}.0`,
    live,
  });
}

beforeAll(async () => {
  const dataDir = tempDir("edgefed-hub-");
  const store = openSqliteStore(dataDir);
  await store.write(async (tx) => {
    for (let i = 0; i < FLEET; i++) await tx.nodes.save(seededNode(i));
  });
  await store.write((tx) => tx.nodes.saveLive(Array.from({ length: FLEET }, (_, i) => seededNode(i))));
  await store.close();
  // No sweep during the test: the seeded health stays as seeded.
  hub = await startTestHub({ dataDir, env: { EDGEFED_SWEEP_MS: "3600000" } });
});
afterAll(async () => {
  await hub?.stop();
  await cleanUp();
});

const list = async (query: string) => {
  const answer = await hub.api("GET", `/federation/nodes?${query}`);
  expect(answer.status).toBe(200);
  return answer.body as { nodes: any[]; total: number; next_after: string | null; counts: Record<string, number> };
};
const ids = (page: { nodes: any[] }) => page.nodes.map((n) => n.node_id);

describe("the fleet list at 10,000 nodes", () => {
  test("the first page by id, the whole fleet's counts by health, and a row's fields", async () => {
    const page = await list("limit=3");
    expect(page.total).toBe(FLEET);
    expect(ids(page)).toEqual(["pi-00000", "pi-00001", "pi-00002"]);
    expect(page.next_after).toBe("pi-00002");
    expect(page.counts).toEqual({ healthy: 2500, degraded: 2500, unhealthy: 2500, offline: 2500 });
    expect(page.nodes[1]).toEqual({
      node_id: "pi-00001",
      health: "degraded",
      health_since: NOW - 86_400_000,
      health_cause: "seeded degraded",
      capabilities: ["kernel"],
      arch: "arm64",
      version: "1.1.0",
      last_seen: NOW - 1000,
      last_heartbeat_at: NOW - 1000,
      mode: "LIVE",
      connectivity: "online",
      outbox_depth: 37,
      verdicts_last_hour: { PASS: 0, HOLD: 0 },
    });
  });

  test("a viewer session lists too", async () => {
    const viewer = await dashboardLogin(hub.hub.httpUrl, hub.watchToken);
    const page = await viewer.call("GET", "/federation/nodes?limit=1");
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(FLEET);
  });

  test("search is a case-insensitive part of the id; filters combine with it; counts stay the fleet's", async () => {
    const found = await list("q=PI-0999");
    expect(ids(found)).toEqual(Array.from({ length: 10 }, (_, i) => `pi-0999${i}`));
    expect(found.total).toBe(10);
    expect(found.counts.healthy).toBe(2500);
    const gpuOffline = await list("q=pi-00&status=offline&capability=gpu&limit=1000");
    // ids below 1000 with i % 4 == 3 and i % 10 == 0: none (3 mod 4 and 0 mod 10 never meet: i even vs odd).
    expect(gpuOffline.total).toBe(0);
    const gpuHealthy = await list("status=healthy&capability=gpu&limit=1000");
    expect(gpuHealthy.total).toBe(500); // i % 20 == 0
    expect(gpuHealthy.nodes.every((n) => n.health === "healthy" && n.capabilities.includes("gpu"))).toBe(true);
  });

  test("paging by offset and by after walks the same rows, in either order", async () => {
    const byOffset = await list("status=degraded&limit=100&offset=200");
    const first = await list("status=degraded&limit=200");
    const byAfter = await list(`status=degraded&limit=100&after=${first.next_after}`);
    expect(ids(byOffset)).toEqual(ids(byAfter));
    expect(ids(byOffset)[0]).toBe("pi-00801");
    const last = await list("order=desc&limit=2");
    expect(ids(last)).toEqual(["pi-09999", "pi-09998"]);
    expect(ids(await list(`order=desc&limit=2&after=${last.next_after}`))).toEqual(["pi-09997", "pi-09996"]);
    const end = await list(`limit=10&offset=${FLEET - 5}`);
    expect(ids(end)).toHaveLength(5);
    expect(end.next_after).toBeNull();
  });

  test("sorts by outbox depth, last seen, version and health; never-heard nodes last either way, ties by id", async () => {
    const deepest = await list("sort=outbox_depth&order=desc&limit=3");
    expect(deepest.nodes.map((n) => n.outbox_depth)).toEqual([999, 999, 999]);
    expect(ids(deepest)).toEqual([...ids(deepest)].sort());
    const shallowest = await list("sort=outbox_depth&limit=1");
    expect(shallowest.nodes[0].outbox_depth).toBe(0); // pi-01000: 37,000 % 1000
    const stalest = await list("sort=last_seen&limit=2&offset=" + (FLEET - Math.ceil(FLEET / 7) - 1));
    expect(stalest.nodes[0].last_seen).not.toBeNull();
    expect(stalest.nodes[1].last_seen).toBeNull();
    const freshest = await list("sort=last_seen&order=desc&limit=2");
    expect(ids(freshest)).toEqual(["pi-00001", "pi-00002"]);
    const neverHeard = await list(`sort=last_seen&order=desc&limit=1&offset=${FLEET - 1}`);
    expect(neverHeard.nodes[0].last_seen).toBeNull();
    const byVersion = await list("sort=version&order=desc&limit=1");
    expect(byVersion.nodes[0].version).toBe("1.2.0");
    const byHealth = await list("sort=health&order=desc&limit=1");
    expect(byHealth.nodes[0].health).toBe("offline");
    const sortedAfter = await list(`sort=version&order=desc&limit=2&after=${byVersion.nodes[0].node_id}`);
    expect(ids(sortedAfter)[0]).not.toBe(byVersion.nodes[0].node_id);
    expect(sortedAfter.nodes[0].version).toBe("1.2.0");
  });

  test("bad parameters are refused naming the field", async () => {
    for (const [query, field] of [
      ["limit=1001", "limit"],
      ["sort=ram", "sort"],
      ["order=up", "order"],
      ["offset=-1", "offset"],
      ["status=asleep", "status"],
    ]) {
      const answer = await hub.api("GET", `/federation/nodes?${query}`);
      expect(answer.status).toBe(400);
      expect(answer.body.detail).toStartWith(`${field}:`);
    }
  });
});
