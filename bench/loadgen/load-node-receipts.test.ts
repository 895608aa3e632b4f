// The load generator's nodes (load-node.ts) and receipts, against a real hub
// (embedded broker, SQLite) in this process: a verdict goes with an outbox
// id once the hub's features say receipts, counts as acknowledged at its
// receipt (the broker's PUBACK is counted apart), and the registry holds
// every one; after a dropped connection the node reads the features again
// (MQTT.js sends no SUBSCRIBE for a topic it knows unless told to), so its
// verdicts still carry ids and are receipted.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { publicKeyObject } from "../../protocol/signing.ts";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { eventually, startTestHub, type TestHub } from "../../test/support/hub-harness.ts";
import { parsePrometheusText, sampleValue } from "../../test/support/prometheus-text.ts";
import { loadOrCreateNodes } from "./key-cache.ts";
import { LoadNodeSession, type NodeContext } from "./load-node.ts";
import { emptyCounters } from "./worker-counters.ts";

let t: TestHub;
const sessions: LoadNodeSession[] = [];
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  for (const session of sessions) await session.stop(1000);
  await t.stop();
  removeTempDirs();
});

const receiptsSent = async () => {
  const scrape = await (await t.fetch("/metrics", { headers: { authorization: `Bearer ${t.adminToken}` } })).text();
  return sampleValue(parsePrometheusText(scrape), "edgefed_hub_receipts_sent_total", {});
};
const hubTally = async (nodeId: string) => (await t.api("GET", `/federation/nodes/${nodeId}`)).body.verdicts;

/** One load node, registered and connected (its features read); its counters. */
async function connectedNode(prefix: string) {
  const counters = emptyCounters();
  const context: NodeContext = {
    enrollmentToken: t.enrollmentToken(),
    ca: t.hub.tls!.ca,
    brokerUrl: "",
    receiptTimeoutMs: 600_000,
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
  await eventually(() => session.connected && session.receipting, 10_000, "connected, the hub's features read");
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
