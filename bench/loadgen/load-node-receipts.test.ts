// The load generator's nodes (load-node.ts) and receipts, against a real hub
// (embedded broker, SQLite) in this process: a verdict goes with an outbox
// id once the hub's features say receipts, counts as acknowledged at its
// receipt (the broker's PUBACK is counted apart), and the registry holds
// every one; after a dropped connection the node reads the features again
// (MQTT.js sends no SUBSCRIBE for a topic it knows unless told to), so its
// verdicts still carry ids and are receipted. On a real Mosquitto with a raw
// client as the hub (the node registered with the real hub, then pointed at
// that broker): a verdict without a receipt in time goes again, with the
// same id; without features, no id and acknowledged at the PUBACK.
import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt from "mqtt";
import { receiptsFor } from "../../protocol/receipts.ts";
import { decodeTopic, everyNodeFilter, HUB_FEATURES_TOPIC, HUB_STATE_TOPIC, nodeTopic } from "../../protocol/topics.ts";
import { publicKeyObject } from "../../protocol/signing.ts";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { eventually, startTestHub, type TestHub } from "../../test/support/hub-harness.ts";
import { startMosquitto } from "../../test/support/mosquitto.ts";
import { parsePrometheusText, sampleValue } from "../../test/support/prometheus-text.ts";
import { loadOrCreateNodes } from "./key-cache.ts";
import { LoadNodeSession, type NodeContext } from "./load-node.ts";
import { emptyCounters } from "./worker-counters.ts";

let t: TestHub;
const sessions: LoadNodeSession[] = [];
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  for (const session of sessions) await session.stop(1000);
  for (const close of closers.reverse()) await close();
  await t.stop();
  removeTempDirs();
});

const receiptsSent = async () => {
  const scrape = await (await t.fetch("/metrics", { headers: { authorization: `Bearer ${t.adminToken}` } })).text();
  return sampleValue(parsePrometheusText(scrape), "edgefed_hub_receipts_sent_total", {});
};
const hubTally = async (nodeId: string) => (await t.api("GET", `/federation/nodes/${nodeId}`)).body.verdicts;

/** One load node, registered with the hub and connected to `brokerUrl` ("": the hub's broker); its counters. */
async function connectedNode(prefix: string, options: { brokerUrl?: string; receiptTimeoutMs?: number; features?: boolean } = {}) {
  const counters = emptyCounters();
  const context: NodeContext = {
    enrollmentToken: t.enrollmentToken(),
    ca: t.hub.tls!.ca,
    brokerUrl: options.brokerUrl ?? "",
    receiptTimeoutMs: options.receiptTimeoutMs ?? 600_000,
    bootId: "loadgen-test",
    counters,
    hubKey: (publicKey) => publicKeyObject(publicKey),
    log: () => {},
    logOnce: () => {},
  };
  const [node] = loadOrCreateNodes(tempDir("edgefed-loadgen-"), prefix, 1).nodes;
  const session = new LoadNodeSession(node!, context, t.hub.httpUrl);
  sessions.push(session);
  expect((await session.register({})).kind).toBe("registered");
  session.connect();
  await eventually(() => session.connected && session.receipting === (options.features ?? true), 10_000, "connected, the hub's features read");
  return { session, counters, nodeId: node!.nodeId };
}

/** Sends `n` verdicts once the node reads receipts on, and waits until every one is acknowledged. */
async function sendVerdicts(node: Awaited<ReturnType<typeof connectedNode>>, n: number): Promise<void> {
  const before = node.counters.verdictsAcked;
  for (let i = 0; i < n; i++) node.session.verdict(Date.now());
  await eventually(() => node.counters.verdictsAcked === before + n, 10_000, `${n} verdicts acknowledged`);
}

test("verdicts go with outbox ids, count as acknowledged at their receipt, and the registry holds each once", async () => {
  const node = await connectedNode("rc");
  const sentBefore = await receiptsSent();
  await sendVerdicts(node, 10);
  expect(node.counters).toMatchObject({ verdictsAcked: 10, verdictsPubacked: 10, verdictsInFlight: 0, verdictsAwaitingReceipt: 0, verdictsResent: 0 });
  // Each one receipted: the hub sent ten receipted ids to this node (and no other node is sending).
  expect(await receiptsSent()).toBe(sentBefore + 10);
  expect(node.session.verdictsAcked).toBe(10);
  expect(await hubTally(node.nodeId)).toMatchObject({ last_seq: 10, missing: 0, duplicates: 0 });
});

test("after a dropped connection the node reads the features again: its verdicts still carry ids and are receipted", async () => {
  const node = await connectedNode("rd");
  await sendVerdicts(node, 3);
  const connectsBefore = node.counters.connects;
  node.session.drop();
  await eventually(() => node.session.connected && node.counters.connects > connectsBefore && node.session.receipting, 10_000, "connected again, the features read again");
  const sentBefore = await receiptsSent();
  await sendVerdicts(node, 4);
  expect(await receiptsSent()).toBe(sentBefore + 4);
  expect(node.counters).toMatchObject({ verdictsAcked: 7, verdictsAwaitingReceipt: 0 });
  expect(await hubTally(node.nodeId)).toMatchObject({ last_seq: 7, missing: 0 });
});

/** A Mosquitto open to anyone, and a raw client on it as the hub: the verdicts it got (seq, ob) and its receipts. */
async function rawHubOnMosquitto(features: boolean) {
  const mosquitto = await startMosquitto({ tls: false });
  closers.push(() => mosquitto.stop());
  const hub = await mqtt.connectAsync(mosquitto.url, { clientId: "raw-hub", reconnectPeriod: 0 });
  closers.push(() => hub.endAsync(true));
  const verdicts: { seq: number; ob: number | null }[] = [];
  hub.on("message", (_topic, payload) => {
    const decoded = decodeTopic("verdicts", payload);
    if (decoded.ok) verdicts.push({ seq: decoded.value.seq, ob: decoded.ob ?? null });
  });
  await hub.subscribeAsync(everyNodeFilter("verdicts"), { qos: 1 });
  if (features) await hub.publishAsync(HUB_FEATURES_TOPIC, JSON.stringify({ receipts: true, ts: 1 }), { qos: 1, retain: true });
  await hub.publishAsync(HUB_STATE_TOPIC, JSON.stringify({ state: "online", ts: Date.now() }), { qos: 1, retain: true });
  const receipt = (nodeId: string, ids: number[]) => hub.publishAsync(nodeTopic(nodeId, "receipts"), JSON.stringify(receiptsFor(ids, Date.now())[0]), { qos: 0 });
  return { url: mosquitto.url, verdicts, receipt };
}

test("a verdict without a receipt in time goes again with the same id, and is acknowledged at the receipt only", async () => {
  const hub = await rawHubOnMosquitto(true);
  const node = await connectedNode("rt", { brokerUrl: hub.url, receiptTimeoutMs: 100 });
  node.session.verdict(Date.now());
  await eventually(() => node.counters.verdictsPubacked === 1 && hub.verdicts.length === 1, 5000, "the broker's PUBACK");
  expect(node.counters).toMatchObject({ verdictsAcked: 0, verdictsAwaitingReceipt: 1 });
  // The worker's tick asks for resends; here the test does, until one went.
  await eventually(() => {
    node.session.resendOverdue(Date.now());
    return hub.verdicts.length === 2;
  }, 5000, "the resend");
  expect(hub.verdicts).toEqual([
    { seq: 1, ob: 1 },
    { seq: 1, ob: 1 },
  ]);
  expect(node.counters).toMatchObject({ verdictsResent: 1, verdictsPubacked: 1, verdictsAcked: 0 });
  await hub.receipt(node.nodeId, [1]);
  await eventually(() => node.counters.verdictsAcked === 1, 5000, "acknowledged at the receipt");
  expect(node.counters).toMatchObject({ verdictsInFlight: 0, verdictsAwaitingReceipt: 0 });
  expect(node.session.verdictsAcked).toBe(1);
});

test("without the hub's features: no outbox id, acknowledged at the broker's PUBACK as before receipts", async () => {
  const hub = await rawHubOnMosquitto(false);
  const node = await connectedNode("rf", { brokerUrl: hub.url, features: false });
  node.session.verdict(Date.now());
  await eventually(() => node.counters.verdictsAcked === 1 && hub.verdicts.length === 1, 5000, "acknowledged at the PUBACK");
  expect(hub.verdicts).toEqual([{ seq: 1, ob: null }]);
  expect(node.counters).toMatchObject({ verdictsPubacked: 1, verdictsAwaitingReceipt: 0, verdictsResent: 0 });
});
