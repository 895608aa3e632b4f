// bun run bench work
// Work packages through a real hub (in this process, embedded broker) and
// NODES simulated nodes (MQTT clients that answer every offer at once: a
// no-op kind), each with SLOTS work slots.
// value = packages submitted, scheduled, offered, run and their results
// committed per second: PACKAGES submitted IN_FLIGHT at a time over HTTP,
// from the first submit to the last success. limit = the same count of
// registry writes of one package each (add, lease, running, succeeded: four
// transitions) straight into a store, no HTTP or MQTT: the registry's own
// ceiling for this work on this machine.
// Also: time from a node's death (its connection dropped, the broker sends
// its last will) to its HELD packages running on another node, and to their success.
import mqtt, { type MqttClient } from "mqtt";
import { openSqliteStore } from "../hub/store/sqlite/sqlite-store.ts";
import { workPackage } from "../hub/store/work-contract.ts";
import { nodeTopic } from "../protocol/topics.ts";
import type { WorkOfferMessage } from "../protocol/work-messages.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "../test/support/hub-harness.ts";
import { percentile, printResult, printTable, round } from "./report.ts";

const NODES = Number(process.env.NODES ?? 100);
const SLOTS = Number(process.env.SLOTS ?? 4);
const PACKAGES = Number(process.env.PACKAGES ?? 2000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 32);
const HELD = Number(process.env.HELD ?? 10);

interface SimNode {
  nodeId: string;
  client: MqttClient;
  /** Answer offers (false: take them and say nothing, as a node that hangs). */
  answering: boolean;
  offersAt: Map<string, number>;
}

async function startNode(t: TestHub, nodeId: string, capabilities: string[], slots: number, answering = true): Promise<SimNode> {
  const registered = await t.api("POST", "/federation/register", registerBody(newNode(nodeId), { capabilities }), t.enrollmentToken());
  if (registered.status !== 201) throw new Error(`register ${nodeId}: ${JSON.stringify(registered.body)}`);
  const creds = registered.body.mqtt;
  const will = { topic: nodeTopic(nodeId, "state"), payload: Buffer.from(JSON.stringify({ state: "offline", bootId: "bench", ts: Date.now() })), qos: 1 as const, retain: true };
  const client = await mqtt.connectAsync(creds.url, { clientId: creds.client_id, username: creds.username, password: creds.password, reconnectPeriod: 0, will });
  const node: SimNode = { nodeId, client, answering, offersAt: new Map() };
  client.on("message", (_topic, payload) => {
    const offer = JSON.parse(payload.toString()) as WorkOfferMessage;
    node.offersAt.set(offer.id, performance.now());
    if (!node.answering) return;
    client.publish(nodeTopic(nodeId, "work/progress"), JSON.stringify({ id: offer.id, attempt: offer.attempt, progress: 0, ts: Date.now() }), { qos: 1 });
    client.publish(nodeTopic(nodeId, "work/result"), JSON.stringify({ id: offer.id, attempt: offer.attempt, ok: true, result: {}, ts: Date.now() }), { qos: 1 });
  });
  await client.subscribeAsync(nodeTopic(nodeId, "work/offer"), { qos: 1 });
  await client.publishAsync(nodeTopic(nodeId, "state"), JSON.stringify({ state: "online", bootId: "bench", ts: Date.now() }), { qos: 1, retain: true });
  const birth = { node_id: nodeId, version: "0.1.0", arch: "x64", capabilities, kernel_config_hash: "sha256:601c52326843c83f", bootId: "bench", session: 1, ts: Date.now(), work_slots: slots };
  await client.publishAsync(nodeTopic(nodeId, "birth"), JSON.stringify(birth), { qos: 1, retain: true });
  let seq = 0;
  const beat = () =>
    client.publish(
      nodeTopic(nodeId, "heartbeat"),
      JSON.stringify({ seq: seq++, ts: Date.now(), uptime_s: 1, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0, kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 } }),
    );
  beat();
  const timer = setInterval(beat, 500);
  client.on("close", () => clearInterval(timer));
  return node;
}

async function submitAll(t: TestHub, count: number, body: Record<string, unknown>): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const response = await t.api("POST", "/api/federation/work", body);
      if (response.status !== 201) throw new Error(`submit: ${response.status} ${JSON.stringify(response.body)}`);
      ids.push(response.body.id);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return ids;
}

/** Until `count` packages in all have succeeded (polled through the API's summary, as an operator would). */
async function succeeded(t: TestHub, count: number, timeoutMs: number): Promise<void> {
  await eventually(async () => (await t.api("GET", "/api/federation/work/summary")).body.by_state.succeeded >= count, timeoutMs, `${count} packages succeeded`);
}

/** The registry's ceiling: a package's four writes (add and three transitions), one write each, PACKAGES times. */
async function registryLimit(): Promise<number> {
  const store = openSqliteStore(tempDir("edgefed-bench-work-"));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: PACKAGES }, async (_, i) => {
      const id = `wp_limit${i}`;
      await store.write((tx) => tx.work.add(workPackage(id)));
      await store.write((tx) => tx.work.transition(id, { to: "leased", node: "pi-1", leaseExpiresAt: Date.now() + 60_000, cause: "bench" }, Date.now()));
      await store.write((tx) => tx.work.transition(id, { to: "running", attempt: 1, progress: 0, leaseExpiresAt: Date.now() + 60_000, cause: "bench" }, Date.now()));
      await store.write((tx) => tx.work.transition(id, { to: "succeeded", attempt: 1, result: {}, cause: "bench" }, Date.now()));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return PACKAGES / seconds;
}

const t = await startTestHub();
try {
  const nodes: SimNode[] = [];
  for (let i = 0; i < NODES; i++) nodes.push(await startNode(t, `bw-${String(i).padStart(3, "0")}`, ["noop"], SLOTS));
  await eventually(() => [...t.hub.context.fleet.all()].filter((n) => n.health === "healthy").length >= NODES, 30_000, "every node healthy");

  const started = performance.now();
  await submitAll(t, PACKAGES, { kind: "noop", requires: ["noop"] });
  await succeeded(t, PACKAGES, 120_000);
  const seconds = (performance.now() - started) / 1000;
  const perSecond = PACKAGES / seconds;

  // A node that takes HELD packages and dies with them; a standby takes over.
  const victim = await startNode(t, "bw-victim", ["failover"], HELD, false);
  const held = await submitAll(t, HELD, { kind: "failover", requires: ["failover"], lease_s: 60 });
  await eventually(() => held.every((id) => victim.offersAt.has(id)), 10_000, "the victim holding its packages");
  const standby = await startNode(t, "bw-standby", ["failover"], HELD);
  const died = performance.now();
  victim.client.stream.destroy(); // dies: no DISCONNECT, the broker sends its last will
  await eventually(() => held.every((id) => standby.offersAt.has(id)), 30_000, "the standby running the victim's packages");
  const rerouted = held.map((id) => standby.offersAt.get(id)! - died).sort((a, b) => a - b);
  await succeeded(t, PACKAGES + HELD, 30_000);
  const done = performance.now() - died;

  const limit = await registryLimit();
  printTable(`work packages through the hub, ${NODES} simulated nodes x ${SLOTS} slots, no-op kind`, [
    ["packages", PACKAGES],
    ["submitted in flight", String(IN_FLIGHT)],
    ["seconds, first submit to last success", round(seconds, 2)],
    ["packages per second", round(perSecond)],
    ["registry limit, packages per second (4 writes each)", round(limit)],
    [`death to the last of ${HELD} packages offered elsewhere, ms`, round(rerouted.at(-1)!)],
    ["death to the median one offered elsewhere, ms", round(percentile(rerouted, 50))],
    [`death to all ${HELD} succeeded elsewhere, ms`, round(done)],
  ]);
  printResult({ bench: "work", value: round(perSecond), unit: "packages/s", limit: round(limit), extra: { failover_ms: round(rerouted.at(-1)!), failover_done_ms: round(done) } });
  for (const node of [...nodes, standby]) node.client.end(true);
} finally {
  await t.stop();
  removeTempDirs();
}
