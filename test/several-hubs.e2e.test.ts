// Two hub replicas (issue 16, "Several hubs", a first step): a real
// Mosquitto with dynamic security, one PostgreSQL registry
// (EDGEFED_DATABASE_URL) for both, EDGEFED_HUB_ID a and b, and
// EDGEFED_SHARED_SUBSCRIPTIONS=1. A node's heartbeats split between the
// replicas, each received and applied by exactly one (counted by each
// replica's ingest). Then per-node ordering in the database: verdicts
// spread over both replicas, out of order and redelivered, are each counted
// once; heartbeats heard by both add up and the newest stays; health
// transitions are recorded once, as a chain, whichever replica's sweep runs.
import { describe, expect, test } from "bun:test";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import type { HubStore } from "../hub/store/hub-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { heartbeatMessage, verdictMessage } from "./fixtures/node-messages.ts";
import type { NodeRecord } from "../hub/nodes/node-model.ts";
import { eventually, newNode, registerBody, type TestHub } from "./support/hub-harness.ts";
import { inProcessReplicasForThisFile } from "./support/in-process-replicas.ts";
import { postgresUnavailable } from "./support/postgres.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";

const HEARTBEATS = 100;
const unavailable = postgresUnavailable();

const heartbeat = (seq: number, ts = Date.now()): string => JSON.stringify(heartbeatMessage(seq, ts, { load: [0, 0, 0] }));

if (unavailable) {
  describe.skip(`several hubs (${unavailable})`, () => test("replicas", () => {}));
} else {
  const { url, hubs, replica } = inProcessReplicasForThisFile();

  /** Runs `read` on a store of its own on the shared registry (what any replica reads). */
  async function fromRegistry<T>(read: (store: HubStore) => Promise<T>): Promise<T> {
    const store = await openPostgresStore(url());
    try {
      return await read(store);
    } finally {
      await store.close();
    }
  }

  const enrollmentToken = () => fromRegistry((store) => createEnrollmentToken(store, { uses: 1, ttlMs: 3_600_000, label: "replicas" }, Date.now()));

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

    test("verdicts spread over two replicas, out of order and redelivered, are each counted once; heartbeats heard by both add up and the newest stays; each health transition is recorded once", async () => {
      // One pair of replicas at a time: those started before this node registered would not know it (and drop their share).
      for (const hub of hubs.splice(0)) await hub.stop();
      // Silent for 3 s: offline (the sweeps of both replicas judge it).
      const quickOffline = { EDGEFED_OFFLINE_AFTER_S: "3" };
      const a = await replica("a", quickOffline);
      const node = newNode("replica-pi-2");
      const registered = await a.api("POST", "/federation/register", registerBody(node), await enrollmentToken());
      expect(registered.status).toBe(201);
      const b = await replica("b", quickOffline);
      const before = [await applied(a), await applied(b)];

      const VERDICTS = 60;
      const REDELIVERED = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
      // Pairs swapped (2, 1, 4, 3, ...), then some again: a late one, and redeliveries, landing on either replica.
      const order = Array.from({ length: VERDICTS }, (_, i) => (i % 2 === 0 ? i + 2 : i)).concat(REDELIVERED);
      const HEARTBEATS = 40;
      const firstTs = Date.now();
      const client = await a.connectNode(registered.body.mqtt);
      for (let i = 0; i < Math.max(order.length, HEARTBEATS); i++) {
        const sends: Promise<unknown>[] = [];
        if (i < order.length) sends.push(client.publishAsync(nodeTopic(node.nodeId, "verdicts"), JSON.stringify(verdictMessage(order[i]!, firstTs + i)), { qos: 1 }));
        if (i < HEARTBEATS) sends.push(client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(i + 1, firstTs + i), { qos: 1 }));
        await Promise.all(sends);
      }
      await client.endAsync(true);

      const messages = order.length + HEARTBEATS;
      let ingest: unknown[] = [];
      const counts = await eventually(
        async () => {
          ingest = [(await a.api("GET", "/api/federation/status")).body.ingest, (await b.api("GET", "/api/federation/status")).body.ingest];
          const now = [(await applied(a)) - before[0]!, (await applied(b)) - before[1]!];
          return now[0]! + now[1]! >= messages ? now : undefined;
        },
        10_000,
        () => `every message applied by a replica (ingest: ${JSON.stringify(ingest)})`,
      );
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts[1]).toBeGreaterThan(0);

      // Verdicts are committed before they are acknowledged; heartbeats reach the registry with each replica's next flush.
      const stored = await eventually(
        () => fromRegistry(async (store) => {
          const row = await store.nodes.get(node.nodeId);
          return row && row.live.heartbeats >= HEARTBEATS ? row : undefined;
        }),
        10_000,
        "both replicas' heartbeats in the registry",
      );
      expect(stored.live.verdicts).toMatchObject({ lastSeq: VERDICTS, missing: 0, duplicates: REDELIVERED.length, byVerdict: { PASS: VERDICTS } });
      expect(stored.live).toMatchObject({ heartbeats: HEARTBEATS, heartbeatSeq: HEARTBEATS, heartbeatTs: firstTs + HEARTBEATS - 1, heartbeatSeqGaps: 0 });
      const events = await fromRegistry((store) => store.federationEvents.list({ node: node.nodeId, limit: 1000 }));
      const verdictSeqs = events.flatMap(({ event }) => (event.type === "verdict" ? [event.event.seq] : []));
      expect(verdictSeqs.length).toBe(VERDICTS);
      expect(new Set(verdictSeqs).size).toBe(VERDICTS);

      // Silent now: the node goes offline, each transition recorded once, each from where the one before left it.
      const offline = await eventually(
        () => fromRegistry(async (store) => ((await store.nodes.get(node.nodeId))?.health === "offline" ? store.nodes.latestTransitions(50) : undefined)),
        15_000,
        "the silent node offline in the registry",
      );
      const chain = (offline.get(node.nodeId) ?? []).toReversed();
      expect(chain[0]).toMatchObject({ from: null, to: "offline" }); // registered
      expect(chain.some((t) => t.to === "healthy")).toBe(true);
      for (let i = 1; i < chain.length; i++) expect({ at: i, from: chain[i]!.from }).toEqual({ at: i, from: chain[i - 1]!.to });
      // Both replicas' views agree with the registry's.
      for (const hub of [a, b]) {
        await eventually(async () => (await hub.api("GET", `/federation/nodes/${node.nodeId}`)).body.health.state === "offline", 5_000, "the replica's view offline");
      }
    }, 60_000);
  });
}
