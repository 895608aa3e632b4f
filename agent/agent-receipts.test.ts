// The agent's side of receipts (agent-mqtt.ts, awaiting-receipts.ts) on the
// hub's real embedded broker and on a real Mosquitto, a real outbox file and a raw MQTT client
// playing the hub (it publishes hub/state and hub/features retained, reads
// the node's events and answers with receipts): with receipts on, an event
// carries its outbox id and stays in the outbox after the broker's PUBACK
// until its receipt; one without a receipt goes again after the timeout, in
// id order, and after a restart of the agent; at most maxInFlight await a
// receipt; without features (or with receipts false) nothing changes: no
// `ob`, forgotten at the PUBACK.
import { afterEach, describe, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { join } from "node:path";
import { nodePublishTopics, nodeSubscribeTopics } from "../hub/broker/acl.ts";
import { HUB_CLIENT_PREFIX } from "../hub/broker/broker-access.ts";
import { dynsecCommands } from "../hub/broker/mosquitto-dynsec-test-kit.ts";
import { startEmbeddedBroker } from "../hub/broker/embedded-broker.ts";
import { hashSecret } from "../hub/identity/secrets.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { MAX_PAYLOAD_BYTES } from "../protocol/messages.ts";
import { receiptsFor } from "../protocol/receipts.ts";
import { decodeTopic, everyNodeFilter, HUB_FEATURES_TOPIC, HUB_STATE_TOPIC, nodeTopic } from "../protocol/topics.ts";
import { tempDir } from "../test/helpers.ts";
import { eventually } from "../test/support/hub-harness.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { heartbeat, verdictEvent } from "../test/support/node-payloads.ts";
import { AgentMqtt } from "./agent-mqtt.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import type { ReceiptTiming } from "./awaiting-receipts.ts";
import { Outbox, outboxMessage } from "./outbox.ts";

const NODE = "pi-receipts";
const NODE_PASSWORD = "node-password-0123456789";
/** Long enough that no resend happens unless a test asks for one. */
const NO_RESEND: Partial<ReceiptTiming> = { timeoutMs: 600_000, maxTimeoutMs: 600_000 };

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

type BrokerKind = "embedded" | "mosquitto";

type Broker = { url: string; hubLogin: mqtt.IClientOptions; restart?: () => Promise<void> };

/** The hub's embedded broker with the node granted, or a Mosquitto open to anyone: its URL and the hub's login. */
async function startBroker(kind: BrokerKind): Promise<Broker> {
  if (kind === "mosquitto") {
    const mosquitto = await startMosquitto({ tls: false });
    closers.push(() => mosquitto.stop());
    return { url: mosquitto.url, hubLogin: {}, restart: () => mosquitto.kill().then(() => mosquitto.restart()) };
  }
  const broker = await startEmbeddedBroker({ host: "127.0.0.1", port: 0, nodes: [{ nodeId: NODE, passwordHash: hashSecret(NODE_PASSWORD) }], watcherPasswordHash: hashSecret("w".repeat(24)) });
  closers.push(() => broker.close());
  return { url: broker.url, hubLogin: broker.hubCredentials };
}

/** The broker, and a raw client as the hub: the verdicts it got (seq and ob) and how it answers. */
async function startHubSide(brokerKind: BrokerKind, features: object | null, startedBroker?: Broker) {
  const broker = startedBroker ?? (await startBroker(brokerKind));
  const hub: MqttClient = await mqtt.connectAsync(broker.url, { clientId: `${HUB_CLIENT_PREFIX}-test`, reconnectPeriod: 100, ...broker.hubLogin });
  closers.push(() => hub.endAsync(true));
  const verdicts: { seq: number; ob: number | null }[] = [];
  const heartbeats: unknown[] = [];
  hub.on("message", (topic, payload) => {
    if (topic.endsWith("/heartbeat")) return void heartbeats.push(JSON.parse(payload.toString()));
    const decoded = decodeTopic("verdicts", payload);
    // As the hub's ingest: what it cannot decode it does not count (seq -1 here, so a test sees it came).
    verdicts.push(decoded.ok ? { seq: decoded.value.seq, ob: decoded.ob ?? null } : { seq: -1, ob: null });
  });
  // As the hub does on every connect (a restarted broker without persistence forgot all of it).
  const setUp = async () => {
    await hub.subscribeAsync([everyNodeFilter("verdicts"), everyNodeFilter("heartbeat")], { qos: 1 });
    if (features) await hub.publishAsync(HUB_FEATURES_TOPIC, JSON.stringify(features), { qos: 1, retain: true });
    await hub.publishAsync(HUB_STATE_TOPIC, JSON.stringify({ state: "online", ts: Date.now() }), { qos: 1, retain: true });
  };
  await setUp();
  hub.on("connect", () => void setUp().catch(() => {}));
  const receipt = (ids: number[]) => hub.publishAsync(nodeTopic(NODE, "receipts"), JSON.stringify(receiptsFor(ids, Date.now())[0]), { qos: 0 });
  return { url: broker.url, verdicts, heartbeats, receipt, restartBroker: broker.restart };
}

/** An agent's MQTT session over an outbox file (a second call on the same file is the agent restarted). */
function startNode(url: string, dbPath: string, timing: Partial<ReceiptTiming> = NO_RESEND) {
  const db: SqliteDatabase = openAgentDatabase(dbPath);
  const outbox = new Outbox(db, { maxMessages: 1000, log: () => {} });
  const session = new AgentMqtt({
    nodeId: NODE,
    ca: () => "",
    credentials: () => ({ url, username: NODE, password: NODE_PASSWORD }),
    outbox,
    bootId: "boot-1",
    birth: () => ({ node_id: NODE, version: "0.1.0", arch: "x64", capabilities: ["kernel"], kernel_config_hash: "sha256:0", bootId: "boot-1", session: 1, ts: Date.now() }),
    onCommand: () => {},
    onPolicy: () => {},
    onWorkOffer: () => {},
    onHubCa: () => {},
    onConnectivity: () => {},
    onCredentialsRefused: () => {
      throw new Error("credentials refused");
    },
    reconnectMaxMs: 1000,
    receiptTiming: timing,
    log: () => {},
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await session.stop();
    db.close();
  };
  closers.push(stop);
  const queueVerdicts = (...seqs: number[]) =>
    outbox.enqueue(seqs.map((seq) => outboxMessage(NODE, "verdicts", JSON.parse(verdictEvent(seq, "PASS", [])), Date.now())));
  const queueHeartbeat = () => outbox.enqueue([outboxMessage(NODE, "heartbeat", JSON.parse(heartbeat(1)), Date.now())]);
  session.start();
  return { session, outbox, db, queueVerdicts, queueHeartbeat, stop };
}

const dbPath = () => join(tempDir("edgefed-receipts-"), "agent.sqlite");

/** A node started against `hub` sends two verdicts without outbox ids and forgets them at the PUBACK, as before receipts. */
async function expectNoReceipts(hub: Awaited<ReturnType<typeof startHubSide>>): Promise<void> {
  const node = startNode(hub.url, dbPath());
  node.queueVerdicts(1, 2);
  node.session.kick();
  await eventually(() => node.session.online && node.outbox.depth() === 0, 5000, "the outbox drained");
  await eventually(() => hub.verdicts.length === 2, 5000, "the verdicts at the hub");
  expect(hub.verdicts).toEqual([
    { seq: 1, ob: null },
    { seq: 2, ob: null },
  ]);
  expect(node.session.receiptStats()).toMatchObject({ awaiting: 0, resends: 0, receiptsOn: false });
}

for (const brokerKind of ["embedded", "mosquitto"] as const) describe(`${brokerKind} broker`, () => {
  test("receipts on: a verdict carries its outbox id and stays in the outbox after the PUBACK until its receipt; a heartbeat goes at once", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const node = startNode(hub.url, dbPath());
    const [id] = node.queueVerdicts(1);
    node.queueHeartbeat();
    node.session.kick();
    // The heartbeat went in the same batch, after the verdict: once it is gone, the broker acknowledged both.
    await eventually(() => node.session.online && node.outbox.stats().byKind.heartbeat === 0, 5000, "the batch acknowledged");
    await eventually(() => hub.verdicts.length === 1, 5000, "the verdict at the hub");
    expect(hub.verdicts).toEqual([{ seq: 1, ob: id! }]);
    expect(node.outbox.stats().byKind.verdicts).toBe(1);
    expect(node.session.receiptStats()).toMatchObject({ awaiting: 1, resends: 0, receiptsOn: true });

    await hub.receipt([id!]);
    await eventually(() => node.outbox.depth() === 0, 5000, "the verdict forgotten at its receipt");
    expect(node.session.receiptStats()).toMatchObject({ awaiting: 0, oldestAgeMs: 0, resends: 0 });
  });

  test("a row of a kind this version does not know (a newer agent's) goes without an id and leaves at the PUBACK; the rest as usual", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const path = dbPath();
    const node = startNode(hub.url, path);
    // Written as a newer agent would, straight into the table (this Outbox counts it on reopening only).
    node.db.prepare("INSERT INTO outbox (topic, payload, qos, retain, kind, queued_at) VALUES (?, ?, 0, 0, 'future-kind', 0)").run(nodeTopic(NODE, "heartbeat"), heartbeat(9));
    const [id] = node.queueVerdicts(1);
    node.session.kick();
    await eventually(() => hub.verdicts.length === 1, 5000, "the verdict at the hub");
    expect(hub.verdicts).toEqual([{ seq: 1, ob: id! }]);
    await hub.receipt([id!]);
    await eventually(() => node.db.prepare("SELECT count(*) AS n FROM outbox").get<{ n: number }>()!.n === 0, 5000, "both rows gone");
  });

  test("with the window full (maxInFlight awaiting receipts), heartbeats still go ahead of the events waiting for room", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const node = startNode(hub.url, dbPath(), { ...NO_RESEND, maxInFlight: 2 });
    node.queueVerdicts(1, 2, 3);
    node.session.kick();
    await eventually(() => hub.verdicts.length === 2 && node.session.receiptStats().awaiting === 2, 5000, "the window full");
    node.queueHeartbeat();
    node.session.kick();
    await eventually(() => hub.heartbeats.length === 1, 5000, "the heartbeat at the hub");
    expect(hub.verdicts.map((v) => v.seq)).toEqual([1, 2]);
    expect(node.outbox.stats().byKind).toMatchObject({ verdicts: 3, heartbeat: 0 });
  });

  test("an event too large to carry its outbox id within the payload limit goes without it and leaves at the PUBACK (the hub could not receipt it)", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const node = startNode(hub.url, dbPath());
    // Within the limit as queued (MAX_PAYLOAD_BYTES - 12), over it with the largest id added.
    const pad = "x".repeat(MAX_PAYLOAD_BYTES - 30);
    node.outbox.enqueue([{ topic: nodeTopic(NODE, "verdicts"), payload: JSON.stringify({ seq: 1, pad }), qos: 1, retain: false, kind: "verdicts", queuedAt: Date.now() }]);
    const [id] = node.queueVerdicts(2);
    node.session.kick();
    await eventually(() => hub.verdicts.length === 2, 5000, "both at the hub");
    expect(hub.verdicts).toEqual([
      { seq: -1, ob: null },
      { seq: 2, ob: id! },
    ]);
    await eventually(() => node.outbox.depth() === 1, 3000, () => `the large one forgotten at its PUBACK: ${JSON.stringify(node.outbox.stats())} ${JSON.stringify(node.session.receiptStats())}`);
    expect(node.session.receiptStats().awaiting).toBe(1);
  });

  test("no receipt in time: sent again, in id order, and counted; one receipt of ranges forgets them", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const node = startNode(hub.url, dbPath(), { timeoutMs: 150, maxTimeoutMs: 60_000 });
    const ids = node.queueVerdicts(1, 2, 3);
    node.session.kick();
    await eventually(() => hub.verdicts.length === 3, 5000, "the first sends");
    await hub.receipt([ids[1]!]);
    // 1 and 3 had no receipt: each goes once more, in id order (the next try waits twice as long).
    await eventually(() => hub.verdicts.length === 5, 5000, "the resends");
    expect(hub.verdicts.slice(3)).toEqual([
      { seq: 1, ob: ids[0]! },
      { seq: 3, ob: ids[2]! },
    ]);
    expect(node.session.receiptStats().resends).toBe(2);
    await hub.receipt([ids[0]!, ids[2]!]);
    await eventually(() => node.outbox.depth() === 0 && node.session.receiptStats().awaiting === 0, 5000, "all forgotten");
  });

  test("an agent restarted sends again what had no receipt, with the same outbox id", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const path = dbPath();
    const first = startNode(hub.url, path);
    const ids = first.queueVerdicts(1, 2);
    first.session.kick();
    await eventually(() => hub.verdicts.length === 2, 5000, "the first sends");
    await hub.receipt([ids[0]!]);
    await eventually(() => first.outbox.depth() === 1, 5000, "the first receipted");
    await first.stop();

    const second = startNode(hub.url, path);
    await eventually(() => hub.verdicts.length === 3, 5000, "the resend after the restart");
    expect(hub.verdicts[2]).toEqual({ seq: 2, ob: ids[1]! });
    await hub.receipt([ids[1]!]);
    await eventually(() => second.outbox.depth() === 0, 5000, "forgotten at its receipt");
  });

  test("at most maxInFlight await a receipt; a receipt makes room for the next", async () => {
    const hub = await startHubSide(brokerKind, { receipts: true, ts: 1 });
    const node = startNode(hub.url, dbPath(), { ...NO_RESEND, maxInFlight: 2 });
    const ids = node.queueVerdicts(1, 2, 3, 4, 5);
    node.session.kick();
    await eventually(() => hub.verdicts.length === 2, 5000, "the first two");
    // Counted in flight at the send: two, so the third was not sent.
    expect(node.session.receiptStats().awaiting).toBe(2);
    await hub.receipt(ids.slice(0, 2));
    await eventually(() => hub.verdicts.length === 4, 5000, "the next two");
    await hub.receipt(ids.slice(2, 4));
    await eventually(() => hub.verdicts.length === 5, 5000, "the last");
    expect(hub.verdicts.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5]);
    await hub.receipt(ids.slice(4));
    await eventually(() => node.outbox.depth() === 0, 5000, "all forgotten");
  });

  for (const [what, features] of [
    ["no hub/features", null],
    ["receipts false", { receipts: false, ts: 1 }],
  ] as const) {
    test(`${what}: no outbox id, forgotten at the PUBACK as before receipts`, async () => {
      const hub = await startHubSide(brokerKind, features);
      await expectNoReceipts(hub);
    });
  }
});

test("a broker whose ACLs refuse the receipts subscription (a Mosquitto role not yet brought up to date): the node connects and forgets events at the PUBACK, although the hub says it receipts", async () => {
  // Mosquitto with dynamic security: the node's role has every topic of the table but receipts (as a hub before receipts wrote it).
  const mosquitto = await startMosquitto({ tls: false, dynsec: true });
  closers.push(() => mosquitto.stop());
  const reads = nodeSubscribeTopics(NODE).filter((topic) => topic !== nodeTopic(NODE, "receipts"));
  const nodeAcls = [
    ...nodePublishTopics(NODE).map((topic) => ({ acltype: "publishClientSend", topic, allow: true })),
    ...reads.flatMap((topic) => ["subscribeLiteral", "publishClientReceive"].map((acltype) => ({ acltype, topic, allow: true }))),
  ];
  const everything = ["publishClientSend", "publishClientReceive", "subscribePattern"].map((acltype) => ({ acltype, topic: "#", allow: true }));
  const answers = await dynsecCommands({ url: mosquitto.url, ca: null }, mosquitto.admin!, [
    { command: "createRole", rolename: "old-node-role", acls: nodeAcls },
    { command: "createClient", username: NODE, password: NODE_PASSWORD, clientid: NODE, roles: [{ rolename: "old-node-role" }] },
    { command: "createRole", rolename: "test-hub", acls: everything },
    { command: "createClient", username: "test-hub", password: "test-hub-password", roles: [{ rolename: "test-hub" }] },
  ]);
  expect(answers.filter((answer) => answer.error)).toEqual([]);
  const hub = await startHubSide("mosquitto", { receipts: true, ts: 1 }, { url: mosquitto.url, hubLogin: { username: "test-hub", password: "test-hub-password" } });
  await expectNoReceipts(hub);
});

test("a new connection (Mosquitto restarted) sends again everything awaiting a receipt, counted as resends", async () => {
  const hub = await startHubSide("mosquitto", { receipts: true, ts: 1 });
  const node = startNode(hub.url, dbPath());
  const ids = node.queueVerdicts(1, 2);
  node.session.kick();
  await eventually(() => hub.verdicts.length === 2, 5000, "the first sends");
  await hub.restartBroker!();
  await eventually(() => hub.verdicts.length === 4, 10_000, "the resends on the new connection");
  expect(hub.verdicts.slice(2)).toEqual([
    { seq: 1, ob: ids[0]! },
    { seq: 2, ob: ids[1]! },
  ]);
  expect(node.session.receiptStats()).toMatchObject({ awaiting: 2, resends: 2 });
  await hub.receipt(ids);
  await eventually(() => node.outbox.depth() === 0, 5000, "forgotten at their receipt");
});
