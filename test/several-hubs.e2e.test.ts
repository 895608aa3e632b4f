// Two hub replicas (issue 16, "Several hubs", a first step): a real
// Mosquitto with dynamic security, one PostgreSQL registry
// (EDGEFED_DATABASE_URL) for both, EDGEFED_HUB_ID a and b, and
// EDGEFED_SHARED_SUBSCRIPTIONS=1. A node's heartbeats split between the
// replicas, each received and applied by exactly one (counted by each
// replica's ingest). Heartbeats only: verdict seq handling is still decided
// in a replica's memory, so verdicts spread over two replicas would look
// like gaps to each.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";

const HEARTBEATS = 100;
const unavailable = postgresUnavailable();

function heartbeat(seq: number): string {
  return JSON.stringify({
    seq, ts: Date.now(), uptime_s: seq, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0,
    kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 },
  });
}

if (unavailable) {
  describe.skip(`several hubs (${unavailable})`, () => test("replicas", () => {}));
} else {
  let postgres: RunningPostgres;
  let mosquitto: RunningMosquitto;
  let url: string;
  const hubs: TestHub[] = [];

  beforeAll(async () => {
    [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto({ dynsec: true })]);
    url = await postgres.freshRegistryUrl();
  }, POSTGRES_START_BOUND_MS);

  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => {});
    await mosquitto?.stop();
    await postgres?.stop();
    removeTempDirs();
  });

  async function replica(hubId: string): Promise<TestHub> {
    const hub = await startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: hubId, EDGEFED_SHARED_SUBSCRIPTIONS: "1" } });
    hubs.push(hub);
    return hub;
  }

  async function enrollmentToken(): Promise<string> {
    const store = await openPostgresStore(url);
    try {
      return await createEnrollmentToken(store, { uses: 1, ttlMs: 3_600_000, label: "replicas" }, Date.now());
    } finally {
      await store.close();
    }
  }

  const applied = async (hub: TestHub): Promise<number> => (await hub.api("GET", "/api/federation/status")).body.ingest.applied;

  describe("several hubs", () => {
    test("each replica names itself in /health and /metrics; a node's heartbeats split between two replicas on shared subscriptions, each applied exactly once", async () => {
      const a = await replica("a");
      const node = newNode("replica-pi-1");
      const registered = await a.api("POST", "/federation/register", registerBody(node), await enrollmentToken());
      expect(registered.status).toBe(201);
      // Started after the registration: a replica reads the fleet from the registry at its start (one registered later is not yet seen by the other).
      const b = await replica("b");

      for (const [hub, hubId] of [[a, "a"], [b, "b"]] as const) {
        expect(await (await hub.fetch("/health")).json()).toMatchObject({ status: "ok", hub_id: hubId });
        const metrics = parsePrometheusText(await (await hub.fetch("/metrics", { headers: { authorization: `Bearer ${hub.adminToken}` } })).text());
        expect(sampleValue(metrics, "edgefed_hub_info", { hub_id: hubId })).toBe(1);
      }
      const before = [await applied(a), await applied(b)];

      const client = await a.connectNode(registered.body.mqtt);
      for (let seq = 1; seq <= HEARTBEATS; seq++) await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(seq), { qos: 1 });
      await client.endAsync(true);

      const counts = await eventually(
        async () => {
          const now = [(await applied(a)) - before[0]!, (await applied(b)) - before[1]!];
          return now[0]! + now[1]! >= HEARTBEATS ? now : undefined;
        },
        10_000,
        "every heartbeat applied by a replica",
      );
      expect(counts[0]! + counts[1]!).toBe(HEARTBEATS);
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts[1]).toBeGreaterThan(0);
      const received = [(await a.api("GET", "/api/federation/status")).body.ingest, (await b.api("GET", "/api/federation/status")).body.ingest];
      expect(received.map((stats) => stats.dropped)).toEqual([0, 0]);
    });
  });
}
