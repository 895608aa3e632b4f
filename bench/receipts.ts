// bun run bench receipts
// What sending receipts costs the hub (hub/mqtt/receipts.ts): a
// ReceiptSender on a real HubMqtt connection to a real Mosquitto (plaintext,
// on loopback) is handed outbox ids as commits would hand them, and sends
// them. Two shapes:
// (a) live fleet: NODES nodes, one event each per tick (a fleet sending a
//     verdict a second: each receipt names one id, as many messages as ids);
// (b) backlog: 100 nodes, 1,000 events each per tick (a drain after an
//     outage: one receipt per node names many ids).
// value = ids receipted per second of the hub's CPU time (user + system:
// what is left for ingest) in (a), over ROUNDS ticks; limit = a bare MQTT.js
// client publishing the same receipts' payloads at QoS 0 to the same broker,
// per second of CPU time. (b) is reported beside, without a limit. Ids a
// receipt could not be sent for (the send buffer over its bound) are
// reported as unsent.
// (c) the ingest path: 100 nodes' verdict events through the hub's own
//     ingestThenCommit (real Ingest, fleet view and SQLite registry on a
//     temporary file, group commits of 100 events) into a ReceiptSender
//     (sending nowhere), with outbox ids and without (an agent from before
//     receipts): CPU microseconds per event, the best of INGEST_RUNS runs of
//     each, alternating. The difference is what taking `ob` and handing it on
//     costs ingest; (a) is what sending costs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { receiptsFor, withOutboxRef } from "../protocol/receipts.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { HubMqtt } from "../hub/mqtt/hub-mqtt.ts";
import { ReceiptSender } from "../hub/mqtt/receipts.ts";
import { ingestThenCommit } from "../hub/mqtt/commit-before-ack.ts";
import { Ingest } from "../hub/ingest/ingest.ts";
import { Fleet } from "../hub/nodes/fleet.ts";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { registeredNode } from "../test/fixtures/node-record.ts";
import { verdictMessage } from "../test/fixtures/node-messages.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const INGEST_RUNS = Number(process.env.INGEST_RUNS ?? 5);
const INGEST_NODES = 100;
const INGEST_ROUNDS = 300;

interface Shape {
  name: string;
  nodes: number;
  idsPerNodePerTick: number;
}
const SHAPES: Shape[] = [
  { name: "live", nodes: NODES, idsPerNodePerTick: 1 },
  { name: "backlog", nodes: 100, idsPerNodePerTick: 1000 },
];

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Waits (asleep: no CPU) until the connection's send buffer is empty, so each tick's writes are paid within the measurement. */
async function drained(stream: { writableLength: number }): Promise<void> {
  while (stream.writableLength > 0) await Bun.sleep(1);
}

async function hubSide(url: string, shape: Shape): Promise<{ idsPerCpuS: number; unsent: number; messages: number }> {
  const hub = new HubMqtt({ url, username: "hub", password: "hub", clientId: `bench-receipts-${shape.name}`, onMessage: () => undefined, retainedOnConnect: () => [], log: () => {} });
  await hub.waitConnected(10_000);
  let sent = 0;
  let unsent = 0;
  let messages = 0;
  const receipts = new ReceiptSender({
    send: (topic, payload) => {
      const went = hub.sendIfClear(topic, payload);
      if (went) messages++;
      return went;
    },
    counted: (sentIds, unsentIds) => {
      sent += sentIds;
      unsent += unsentIds;
    },
    clock: Date.now,
  });
  const nodeIds = Array.from({ length: shape.nodes }, (_, i) => `bench-${i}`);
  const stream = (hub as unknown as { client: { stream: { writableLength: number } } }).client.stream;
  const start = process.cpuUsage();
  let ob = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < shape.idsPerNodePerTick; i++) {
      ob++;
      for (const nodeId of nodeIds) receipts.add(nodeId, ob);
    }
    await nextTurn(); // the tick: ReceiptSender sends on setImmediate
    await drained(stream);
  }
  const seconds = cpuSeconds(start);
  await hub.close();
  return { idsPerCpuS: (sent + unsent) / seconds, unsent, messages };
}

/** The same receipts' payloads, published by a bare MQTT.js client at QoS 0. */
async function bareSide(url: string, shape: Shape): Promise<number> {
  const client = await mqtt.connectAsync(url, { clientId: `bench-bare-${shape.name}`, reconnectPeriod: 0 });
  const topics = Array.from({ length: shape.nodes }, (_, i) => nodeTopic(`bench-${i}`, "receipts"));
  const start = process.cpuUsage();
  let ob = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const ids = Array.from({ length: shape.idsPerNodePerTick }, () => ++ob);
    const payloads = receiptsFor(ids, Date.now()).map((receipt) => JSON.stringify(receipt));
    for (const topic of topics) for (const payload of payloads) client.publish(topic, payload, { qos: 0 });
    await nextTurn();
    await drained(client.stream);
  }
  const seconds = cpuSeconds(start);
  await client.endAsync();
  return (shape.nodes * shape.idsPerNodePerTick * ROUNDS) / seconds;
}

/** CPU microseconds per verdict event through ingestThenCommit, with outbox ids (receipted) or without. */
async function ingestPath(withIds: boolean): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "edgefed-bench-receipts-"));
  const store = openSqliteStore(dataDir);
  try {
    const nodeIds = Array.from({ length: INGEST_NODES }, (_, i) => `bench-${i}`);
    await store.write(async (tx) => {
      for (const nodeId of nodeIds) await tx.nodes.save(registeredNode(nodeId, Date.now()));
    });
    const fleet = await Fleet.load(store, { heartbeatMs: 1000, offlineAfterMs: 60_000, degradedLoad: 4, listeningSince: Date.now() });
    const ingest = new Ingest(fleet, { onAck: async () => null, onBirth: () => {}, onWorkProgress: async () => null, onWorkResult: async () => null }, () => {});
    const receipts = new ReceiptSender({ send: () => true, counted: () => {}, clock: Date.now });
    const handle = ingestThenCommit(ingest, fleet, { committed: () => {}, receipted: (nodeId, ob) => receipts.add(nodeId, ob) });
    const topics = nodeIds.map((nodeId) => nodeTopic(nodeId, "verdicts"));
    const payloads = Array.from({ length: INGEST_ROUNDS }, (_, round) => {
      const event = JSON.stringify(verdictMessage(round + 1, Date.now(), "HOLD", ["COOLDOWN"]));
      return Buffer.from(withIds ? withOutboxRef(event, round + 1) : event);
    });
    const start = process.cpuUsage();
    for (const payload of payloads) await Promise.all(topics.map((topic) => handle(topic, payload, false)));
    await nextTurn(); // the last receipts
    return (cpuSeconds(start) * 1e6) / (INGEST_NODES * INGEST_ROUNDS);
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const mosquitto = await startMosquitto({ tls: false });
try {
  const rows: [string, string | number][] = [];
  const figures: Record<string, number> = {};
  for (const shape of SHAPES) {
    const hub = await hubSide(mosquitto.url, shape);
    rows.push(
      [`${shape.name}: ids receipted per CPU second (${shape.nodes} nodes x ${shape.idsPerNodePerTick} ids a tick)`, hub.idsPerCpuS],
      [`${shape.name}: receipt messages / unsent ids`, `${hub.messages} / ${hub.unsent}`],
    );
    figures[`${shape.name}_ids_per_cpu_s`] = Math.round(hub.idsPerCpuS);
    figures[`${shape.name}_unsent`] = hub.unsent;
  }
  const bare = await bareSide(mosquitto.url, SHAPES[0]!);
  rows.push(["live: bare QoS 0 publishes of the same payloads, per CPU second (limit)", bare]);
  const ingestUs = { withIds: Infinity, without: Infinity };
  for (let run = 0; run < INGEST_RUNS; run++) {
    ingestUs.without = Math.min(ingestUs.without, await ingestPath(false));
    ingestUs.withIds = Math.min(ingestUs.withIds, await ingestPath(true));
  }
  rows.push(
    [`ingest path, CPU us per verdict event with outbox ids (best of ${INGEST_RUNS})`, round(ingestUs.withIds, 1)],
    [`ingest path, CPU us per verdict event without (best of ${INGEST_RUNS})`, round(ingestUs.without, 1)],
  );
  figures.ingest_us_with_ids = round(ingestUs.withIds, 1);
  figures.ingest_us_without = round(ingestUs.without, 1);
  printTable(`receipts: the hub's cost of sending them, ${ROUNDS} ticks`, rows);
  const { live_ids_per_cpu_s, ...extra } = figures;
  printResult({ bench: "receipts", value: live_ids_per_cpu_s!, unit: "ids receipted per CPU second (live fleet)", limit: Math.round(bare), extra });
} finally {
  await mosquitto.stop();
}
process.exit(0);
