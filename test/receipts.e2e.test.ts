// Receipts (protocol/receipts.ts, hub/mqtt/receipts.ts) on one hub with the
// embedded broker and SQLite: a raw MQTT client registered as a node sends
// its events with outbox ids and gets receipts naming exactly the ids the
// registry committed; never for a commit that failed; again for a duplicate;
// also for what the hub refuses for good; none for events without an id (an
// agent from before receipts), which are taken as before. The retained
// hub/features says the hub takes them; no other node may read a node's
// receipts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { WATCHER_CLIENT_PREFIX, WATCHER_USERNAME } from "../hub/broker/embedded-broker.ts";
import { openSqliteRegistry } from "../hub/store/sqlite/sqlite-store.ts";
import { removeTempDirs } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type NodeCredentials, type TestHub } from "./support/hub-harness.ts";
import { verdictEvent } from "./support/node-payloads.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";
import { mayReadReceiptsOf, publishEvent, receiptsOf, retainedHubFeatures } from "./support/receipts.ts";

let t: TestHub;
const hubLog: string[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  t = await startTestHub({ log: (line) => hubLog.push(line) });
});
afterAll(async () => {
  for (const client of clients) await client.endAsync(true);
  await t.stop();
  removeTempDirs();
});

async function registeredNode(nodeId: string): Promise<NodeCredentials> {
  const answer = await t.api("POST", "/federation/register", registerBody(newNode(nodeId)), t.enrollmentToken());
  expect(answer.status).toBe(201);
  return answer.body.mqtt;
}

async function connect(credentials: NodeCredentials): Promise<MqttClient> {
  const client = await t.connectNode(credentials);
  clients.push(client);
  return client;
}

const nodeView = async (nodeId: string) => (await t.api("GET", `/federation/nodes/${nodeId}`)).body;
const ingestStats = async () => (await t.api("GET", "/api/federation/status")).body.ingest;
const receiptsSentMetric = async () => {
  const scrape = await (await t.fetch("/metrics", { headers: { authorization: `Bearer ${t.adminToken}` } })).text();
  return sampleValue(parsePrometheusText(scrape), "edgefed_hub_receipts_sent_total", {});
};

describe("receipts on one hub (embedded broker, SQLite)", () => {
  test("the retained hub/features says the hub takes outbox ids, to a node subscribing after the hub started", async () => {
    const client = await connect(await registeredNode("features-pi"));
    expect(await retainedHubFeatures(client)).toEqual({ receipts: true, ts: expect.any(Number) });
  });

  test("committed events are receipted by exactly their ids; a duplicate again; a refused one too; one without an id gets none and is taken as before", async () => {
    const nodeId = "receipts-pi";
    const client = await connect(await registeredNode(nodeId));
    const receipts = await receiptsOf(client, nodeId);
    const sentBefore = await receiptsSentMetric();
    const droppedBefore = (await ingestStats()).dropped_by_reason["invalid payload"] ?? 0;

    for (let seq = 1; seq <= 5; seq++) await publishEvent(client, nodeId, "verdicts", verdictEvent(seq, "PASS", []), 100 + seq);
    await receipts.waitFor([101, 102, 103, 104, 105]);
    expect((await nodeView(nodeId)).verdicts.last_seq).toBe(5);

    await publishEvent(client, nodeId, "verdicts", verdictEvent(3, "PASS", []), 103); // sent again: no receipt came, say
    await publishEvent(client, nodeId, "closes", JSON.stringify({ seq: "three", symbol: "ETH", ts: Date.now() }), 106); // no hub takes it
    await publishEvent(client, nodeId, "verdicts", verdictEvent(6, "HOLD", ["COOLDOWN"]), null); // an agent from before receipts
    await publishEvent(client, nodeId, "verdicts", verdictEvent(7, "PASS", []), 107);
    // Receipts come in commit order: once 107's came, 6's would have come before it.
    await receipts.waitFor([106, 107]);
    expect(receipts.ids().sort((a, b) => a - b)).toEqual([101, 102, 103, 103, 104, 105, 106, 107]);

    const view = await nodeView(nodeId);
    expect(view.verdicts).toMatchObject({ last_seq: 7, duplicates: 1, missing: 0, by_verdict: { PASS: 6, HOLD: 1 } });
    expect((await ingestStats()).dropped_by_reason["invalid payload"]).toBe(droppedBefore + 1);
    expect(await receiptsSentMetric()).toBe(sentBefore + 8);
  });

  test("a decision ack the hub refuses (no such decision) is receipted once its refusal is known", async () => {
    const nodeId = "ack-pi";
    const client = await connect(await registeredNode(nodeId));
    const receipts = await receiptsOf(client, nodeId);
    const badAcksBefore = (await ingestStats()).dropped_by_reason["bad ack"] ?? 0;
    await publishEvent(client, nodeId, "cmd/ack", JSON.stringify({ id: "no-such-decision", ok: true, appliedAt: Date.now() }), 301);
    await receipts.waitFor([301]);
    expect((await ingestStats()).dropped_by_reason["bad ack"]).toBe(badAcksBefore + 1);
  });

  test("an event whose commit failed gets no receipt; sent again once the registry takes writes, it gets one", async () => {
    const nodeId = "unwritable-pi";
    const credentials = await registeredNode(nodeId);
    // The broker drops the node's connection when its message is not committed: the read-only
    // watcher, whose connection stays, sees every receipt the hub sends to the node.
    const watcher = await mqtt.connectAsync(t.hub.mqttUrl, { ca: t.hub.tls!.ca, clientId: `${WATCHER_CLIENT_PREFIX}receipts`, username: WATCHER_USERNAME, password: t.watchToken, reconnectPeriod: 0 });
    clients.push(watcher);
    const receipts = await receiptsOf(watcher, nodeId);
    const first = await connect(credentials);
    const registry = openSqliteRegistry(t.dataDir);
    try {
      registry.db.exec("CREATE TRIGGER refuse_node_writes BEFORE UPDATE ON nodes BEGIN SELECT RAISE(ABORT, 'registry refuses writes for the test'); END");
      const failures = hubLog.filter((line) => line.includes("registry refuses writes")).length;
      // No PUBACK comes (the broker drops the connection): not awaited.
      void publishEvent(first, nodeId, "verdicts", verdictEvent(1, "PASS", []), 201).catch(() => {});
      await eventually(() => hubLog.filter((line) => line.includes("registry refuses writes")).length > failures, 10_000, "the failed commit logged");
      registry.db.exec("DROP TRIGGER refuse_node_writes");
    } finally {
      registry.close();
    }

    // The node comes back and sends a new event first: its receipt comes, 201's does not.
    const again = await connect(credentials);
    await publishEvent(again, nodeId, "verdicts", verdictEvent(2, "PASS", []), 202);
    await receipts.waitFor([202]);
    expect(receipts.ids()).toEqual([202]);

    // Sent again (the node never had its receipt): taken once, receipted.
    await publishEvent(again, nodeId, "verdicts", verdictEvent(1, "PASS", []), 201);
    await receipts.waitFor([201]);
    expect(receipts.ids()).toEqual([202, 201]);
    expect((await nodeView(nodeId)).verdicts).toMatchObject({ last_seq: 2, missing: 0, by_verdict: { PASS: 2 } });
  });

  test("no node may read another node's receipts", async () => {
    const other = await connect(await registeredNode("nosy-pi"));
    expect(await mayReadReceiptsOf(other, "receipts-pi")).toBe(false);
    expect(await mayReadReceiptsOf(other, "nosy-pi")).toBe(true);
  });
});
