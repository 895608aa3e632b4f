// Three hub replicas (issue 16) on one real Mosquitto (dynamic security,
// shared subscriptions) and one PostgreSQL registry, all started before any
// node registers: each learns at once what another changed (the registry's
// change feed, hub/replicas/): a node registered on one has its first
// messages applied on whichever replica the broker hands them to, API reads
// on another replica see a registration or removal right after its answer,
// decisions fold from what another replica issued, and acks landing anywhere
// are recorded once and heard by every replica.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { openPostgresStore } from "../hub/store/postgres/postgres-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { openEventStream, type EventStream } from "./support/dashboard-client.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";

const unavailable = postgresUnavailable();

function heartbeat(seq: number): string {
  return JSON.stringify({
    seq, ts: Date.now(), uptime_s: seq, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0,
    kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 },
  });
}

if (unavailable) {
  describe.skip(`replicas in step (${unavailable})`, () => test("replicas", () => {}));
} else {
  let postgres: RunningPostgres;
  let mosquitto: RunningMosquitto;
  let url: string;
  let a: TestHub;
  let b: TestHub;
  let c: TestHub;
  const clients: MqttClient[] = [];
  const streams: EventStream[] = [];

  beforeAll(async () => {
    [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto({ dynsec: true })]);
    url = await postgres.freshRegistryUrl();
    const replica = (hubId: string) => startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: hubId, EDGEFED_SHARED_SUBSCRIPTIONS: "1" } });
    a = await replica("a"); // the first migrates the registry
    [b, c] = await Promise.all([replica("b"), replica("c")]);
  }, POSTGRES_START_BOUND_MS * 2);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    for (const client of clients) await client.endAsync(true).catch(() => {});
    for (const hub of [a, b, c]) await hub?.stop().catch(() => {});
    await mosquitto?.stop();
    await postgres?.stop();
    removeTempDirs();
  });

  async function enrollmentToken(): Promise<string> {
    const store = await openPostgresStore(url);
    try {
      return await createEnrollmentToken(store, { uses: 10, ttlMs: 3_600_000, label: "replicas" }, Date.now());
    } finally {
      await store.close();
    }
  }

  /** Registers a node on `hub` and returns its broker credentials. */
  async function register(hub: TestHub, nodeId: string): Promise<{ url: string; username: string; password: string; client_id: string }> {
    const registered = await hub.api("POST", "/federation/register", registerBody(newNode(nodeId)), await enrollmentToken());
    expect(registered.status).toBe(201);
    return registered.body.mqtt;
  }

  const ingestOf = async (hub: TestHub) => (await hub.api("GET", "/api/federation/status")).body.ingest as { applied: number; dropped: number; dropped_by_reason: Record<string, number> };

  describe("replicas in step", () => {
    test("a node registered on one replica has its first heartbeats applied on whichever replica takes them, none dropped as unknown", async () => {
      const before = await Promise.all([a, b, c].map(ingestOf));
      const client = await a.connectNode(await register(a, "sync-pi-1"));
      clients.push(client);
      const HEARTBEATS = 9; // round robin over three replicas: each gets some
      for (let seq = 1; seq <= HEARTBEATS; seq++) await client.publishAsync(nodeTopic("sync-pi-1", "heartbeat"), heartbeat(seq), { qos: 1 });
      const after = await eventually(
        async () => {
          const now = await Promise.all([a, b, c].map(ingestOf));
          const handled = now.reduce((sum, stats, i) => sum + stats.applied + stats.dropped - before[i]!.applied - before[i]!.dropped, 0);
          return handled >= HEARTBEATS ? now : undefined;
        },
        10_000,
        "every heartbeat handled by a replica",
      );
      expect(after.map((stats, i) => (stats.dropped_by_reason["unknown node"] ?? 0) - (before[i]!.dropped_by_reason["unknown node"] ?? 0))).toEqual([0, 0, 0]);
      expect(after.reduce((sum, stats, i) => sum + stats.applied - before[i]!.applied, 0)).toBe(HEARTBEATS);
    });

    test("right after a registration answered on one replica, another lists the node and shows it; right after its removal, says it is gone", async () => {
      await register(a, "sync-pi-2");
      const [view, list] = await Promise.all([b.api("GET", "/federation/nodes/sync-pi-2"), c.api("GET", "/federation/nodes?limit=500")]);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ node_id: "sync-pi-2" });
      expect(list.body.nodes.map((node: { node_id: string }) => node.node_id)).toContain("sync-pi-2");

      expect((await a.api("DELETE", "/federation/nodes/sync-pi-2")).status).toBe(200);
      const [gone, listed] = await Promise.all([b.api("GET", "/federation/nodes/sync-pi-2"), b.api("GET", "/federation/nodes?limit=500")]);
      expect(gone.status).toBe((await a.api("GET", "/federation/nodes/sync-pi-2")).status);
      expect(gone.body.error).toBe("node_removed");
      expect(listed.body.nodes.map((node: { node_id: string }) => node.node_id)).not.toContain("sync-pi-2");
    });

    test("a fleet decision issued on one replica after another's folds both; every replica's node view shows the policy in force", async () => {
      await register(a, "sync-pi-3");
      // Right after its registration answered elsewhere, a replica may address the node.
      const toNode = await c.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "sync-pi-3", payload: { mode: "SHADOW" } });
      expect([toNode.status, toNode.body.targets]).toEqual([201, ["sync-pi-3"]]);
      const first = await a.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "fleet", payload: { max_leverage: 2 } });
      expect(first.status).toBe(201);
      const second = await b.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "fleet", payload: { max_drawdown_pct: 7 } });
      expect(second.status).toBe(201);
      for (const hub of [a, b, c]) {
        const view = await hub.api("GET", "/federation/nodes/sync-pi-3");
        expect(view.body.desired_policy).toMatchObject({ max_leverage: 2, max_drawdown_pct: 7 });
      }
    });

    test("a decision issued on one replica reaches the node; its acks, landing on any replica, are recorded once and heard by every replica", async () => {
      const client = await a.connectNode(await register(a, "sync-pi-4"));
      clients.push(client);
      const received: string[] = [];
      client.on("message", (_topic, payload) => received.push(JSON.parse(payload.toString()).id));
      await client.subscribeAsync(nodeTopic("sync-pi-4", "cmd"), { qos: 1 });
      const heard = new Map<TestHub, string[]>([a, b, c].map((hub) => [hub, []]));
      for (const [hub, ids] of heard) hub.hub.decisions.onChange((id) => ids.push(id));
      const before = await Promise.all([a, b, c].map(ingestOf));

      const issued = await a.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "sync-pi-4", payload: { max_leverage: 1.5 } });
      expect(issued.status).toBe(201);
      await eventually(async () => (received.includes(issued.body.id) ? true : undefined), 10_000, "the node receives the decision");
      // As a redelivery would be: the same ack three times, handed round robin to the replicas.
      const ack = JSON.stringify({ id: issued.body.id, ok: true, appliedAt: Date.now() });
      for (let i = 0; i < 3; i++) await client.publishAsync(nodeTopic("sync-pi-4", "cmd/ack"), ack, { qos: 1 });

      const after = await eventually(
        async () => {
          const now = await Promise.all([a, b, c].map(ingestOf));
          const handled = now.reduce((sum, stats, i) => sum + stats.applied + stats.dropped - before[i]!.applied - before[i]!.dropped, 0);
          return handled >= 3 ? now : undefined;
        },
        10_000,
        "every ack handled by a replica",
      );
      expect(after.map((stats, i) => stats.dropped - before[i]!.dropped)).toEqual([0, 0, 0]);
      const decision = await c.api("GET", `/api/federation/decisions/${issued.body.id}`);
      expect(decision.body.acks).toHaveLength(1);
      expect(decision.body.acks[0]).toMatchObject({ node_id: "sync-pi-4", ok: true });
      for (const [hub, ids] of heard) {
        await eventually(async () => (ids.includes(issued.body.id) ? true : undefined), 5000, `replica ${hub.settings.hubId} hears of the decision`);
      }
    });

    test("the dashboard's live stream on every replica carries a node registered, a decision issued and a node removed on another", async () => {
      const onB = await openEventStream(b.hub.httpUrl, { authorization: `Bearer ${b.adminToken}` });
      const onC = await openEventStream(c.hub.httpUrl, { authorization: `Bearer ${c.adminToken}` });
      streams.push(onB, onC);
      await register(a, "sync-pi-5");
      for (const stream of [onB, onC]) await stream.next((e) => e.event === "node" && e.data.node_id === "sync-pi-5" && !e.data.removed, 10_000, "the node registered on a");
      const issued = await a.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "sync-pi-5", payload: { max_leverage: 1.2 } });
      expect(issued.status).toBe(201);
      for (const stream of [onB, onC]) await stream.next((e) => e.event === "decision" && e.data.id === issued.body.id, 10_000, "the decision issued on a");
      expect((await a.api("DELETE", "/federation/nodes/sync-pi-5")).status).toBe(200);
      for (const stream of [onB, onC]) await stream.next((e) => e.event === "node" && e.data.node_id === "sync-pi-5" && e.data.removed === true, 10_000, "the node removed on a");
    });
  });
}
