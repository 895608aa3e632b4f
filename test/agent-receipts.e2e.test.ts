// Receipts end to end (protocol/receipts.ts): a real agent and a real hub
// (embedded broker, SQLite) over real HTTP and MQTT. The agent reads the
// hub's features, sends its verdict events with their outbox ids, and
// forgets each at the receipt naming it; the read-only watcher sees both
// sides of the wire. A verdict sent again is counted once (a duplicate) and
// receipted again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import type { Agent } from "../agent/agent.ts";
import { outboxMessage } from "../agent/outbox.ts";
import { WATCHER_CLIENT_PREFIX, WATCHER_USERNAME } from "../hub/broker/embedded-broker.ts";
import { decodeTopic, nodeTopic } from "../protocol/topics.ts";
import { intentStream } from "./fixtures/intents.ts";
import { removeTempDirs } from "./helpers.ts";
import { postJson, startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { verdictEvent } from "./support/node-payloads.ts";
import { receiptsOf } from "./support/receipts.ts";

const NODE = "receipts-agent-e2e";
const INTENTS = 20;

let t: TestHub;
const agents: Agent[] = [];
let watcher: MqttClient;
beforeAll(async () => {
  t = await startTestHub();
  watcher = await mqtt.connectAsync(t.hub.mqttUrl, { ca: t.hub.tls!.ca, clientId: `${WATCHER_CLIENT_PREFIX}agent-receipts`, username: WATCHER_USERNAME, password: t.watchToken, reconnectPeriod: 0 });
});
afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  await watcher?.endAsync(true);
  await t.stop();
  removeTempDirs();
});

/** The outbox ids the agent's verdict events carried, as the watcher saw them go by. */
async function verdictRefsSeen(): Promise<number[]> {
  const topic = nodeTopic(NODE, "verdicts");
  const refs: number[] = [];
  watcher.on("message", (received, payload) => {
    if (received !== topic) return;
    const decoded = decodeTopic("verdicts", payload);
    refs.push(decoded.ob ?? -1);
  });
  await watcher.subscribeAsync(topic, { qos: 0 });
  return refs;
}

const verdictRows = (agent: Agent) => agent.outbox.stats().byKind.verdicts;
const receiptStatus = (agent: Agent) => (agent.status() as { receipts: { receiptsOn: boolean; awaiting: number; resends: number } }).receipts;
const hubTally = async () => (await t.api("GET", `/federation/nodes/${NODE}`)).body.verdicts;

test("an agent's verdicts carry their outbox ids and leave its outbox at the hub's receipt; one sent again is counted once and receipted again", async () => {
  const refs = await verdictRefsSeen();
  const receipts = await receiptsOf(watcher, NODE);
  const config = testAgentConfig(t, NODE, { apiPort: 0 });
  const agent = await startOnlineAgent(t, config, agents);
  await eventually(() => receiptStatus(agent).receiptsOn, 10_000, "the hub's features read");

  const answer = await postJson(agent, "/v1/intents", intentStream(INTENTS, { seed: 3, prefix: "rc" }));
  expect(answer.status).toBe(200);
  await eventually(async () => (await hubTally()).last_seq === INTENTS, 10_000, "every verdict at the hub");
  await eventually(() => refs.length === INTENTS, 10_000, "every verdict seen by the watcher");
  expect(refs.every((ob) => ob > 0)).toBe(true);
  await receipts.waitFor(refs);
  await eventually(() => verdictRows(agent) === 0, 10_000, "the verdicts forgotten");
  expect(receiptStatus(agent)).toMatchObject({ awaiting: 0, resends: 0 });

  // A verdict sent again (its receipt was lost, say), ahead of the next intent's: counted once by the hub,
  // receipted again, forgotten.
  const [again] = agent.outbox.enqueue([outboxMessage(NODE, "verdicts", JSON.parse(verdictEvent(5, "PASS", [])), Date.now())]);
  expect((await postJson(agent, "/v1/intents", intentStream(1, { seed: 4, prefix: "rc-next" }))).status).toBe(200);
  await receipts.waitFor([again!, again! + 1]);
  await eventually(() => verdictRows(agent) === 0, 10_000, "both forgotten");
  expect(await hubTally()).toMatchObject({ last_seq: INTENTS + 1, duplicates: 1, missing: 0 });
});
