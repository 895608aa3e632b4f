// Defect 8: a hub `kill -9` must not lose a verdict event or a decision ack
// that a node was acknowledged for. A node publishes a burst of verdict
// events (QoS 1, seq 1..N) with decision acks among them, back to back; the
// hub (its own process) is killed with SIGKILL as soon as the node has the
// PUBACK of the burst's last message but TAIL, started again on the same data
// dir, and the node sends again only what it was never acknowledged for (as
// the agent's outbox does). The registry file must then count every seq once
// and hold every ack: on the embedded broker (which dies with the hub) and
// on a real Mosquitto (which keeps the hub's session and redelivers).
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { nodeTopic } from "../protocol/topics.ts";
import { openSqliteRegistry, type SqliteRegistry } from "../hub/store/sqlite/sqlite-store.ts";
import { BUN, freePort, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { killHubProcesses, startHubProcess, type HubProcess } from "./support/hub-process.ts";
import { eventually, newNode, registerBody } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { seedTestTls, trustedTestCas } from "./support/test-tls.ts";

const BURST = 800; // verdict events; under Mosquitto's default max_queued_messages (1000) for the hub's session
const DECISIONS = 20; // acknowledged within the burst, one every BURST / DECISIONS events
/** Messages still in flight at the kill: on the embedded broker some are never acknowledged and sent again. */
const TAIL = 50;

const brokers: RunningMosquitto[] = [];
const registries: SqliteRegistry[] = [];
afterAll(async () => {
  await killHubProcesses();
  for (const registry of registries) registry.close();
  for (const broker of brokers) await broker.stop();
  removeTempDirs();
});

/** An API call that must succeed: its body. */
async function apiOk(hub: HubProcess, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const answer = await hub.api(method, path, body, token);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

function createToken(dataDir: string): string {
  const proc = Bun.spawnSync([BUN, join(REPO_ROOT, "hub/main.ts"), "token", "create", "--data-dir", dataDir], { env: { PATH: process.env.PATH } });
  if (proc.exitCode !== 0) throw new Error(proc.stderr.toString());
  return proc.stdout.toString().trim();
}

function verdictEvent(seq: number): string {
  const hold = seq % 3 === 0;
  return JSON.stringify({
    seq,
    ts: Date.now(),
    simulated: false,
    symbol: "BTCUSDT",
    verdict: {
      id: `i-${seq}`,
      verdict: hold ? "HOLD" : "PASS",
      reasons: hold ? ["COOLDOWN"] : [],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: 100, friction_usd: 0.2, required_edge_usd: 0.6, r_ratio: 2.5 },
    },
  });
}

interface Message {
  topic: string;
  payload: string;
}

function connect(credentials: { url: string; username: string; password: string; client_id: string }): Promise<MqttClient> {
  return mqtt.connectAsync(credentials.url, {
    clientId: credentials.client_id,
    username: credentials.username,
    password: credentials.password,
    ca: trustedTestCas(),
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
}

/** Publishes every message back to back at QoS 1; `onAck` runs at each PUBACK. */
function publishAll(client: MqttClient, messages: Message[], onAck: (index: number) => void): void {
  messages.forEach((message, index) => client.publish(message.topic, message.payload, { qos: 1 }, (error) => !error && onAck(index)));
}

async function killAfterBurst(broker: "embedded" | "mosquitto"): Promise<void> {
  const dataDir = tempDir("edgefed-hub-kill-");
  seedTestTls(dataDir); // the hub serves the test run's certificate, which the test's clients trust
  let env: Record<string, string> = { EDGEFED_DATA_DIR: dataDir };
  if (broker === "embedded") {
    // The same port after the restart, as a real hub's; nodes reconnect to it.
    env = { ...env, EDGEFED_MQTT_HOST: "127.0.0.1", EDGEFED_MQTTS_PORT: String(await freePort()) };
  } else {
    const mosquitto = await startMosquitto({ dynsec: true });
    brokers.push(mosquitto);
    env = { ...env, EDGEFED_MQTT_URL: mosquitto.url, EDGEFED_MQTT_USERNAME: mosquitto.admin!.username, EDGEFED_MQTT_PASSWORD: mosquitto.admin!.password };
  }

  let hub = await startHubProcess(env);
  const node = newNode("kill-pi");
  const registered = await apiOk(hub, "POST", "/federation/register", registerBody(node), createToken(dataDir));
  const credentials = registered.mqtt;
  const decisionIds: string[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const issued = await apiOk(hub, "POST", "/api/federation/decisions", { type: "CASHFLOW", target: node.nodeId, payload: { max_notional_usd: 1000 + i } });
    decisionIds.push(issued.id);
  }

  // The burst: verdict events seq 1..BURST, an ack after every BURST / DECISIONS of them.
  const messages: Message[] = [];
  for (let seq = 1; seq <= BURST; seq++) {
    messages.push({ topic: nodeTopic(node.nodeId, "verdicts"), payload: verdictEvent(seq) });
    if (seq % (BURST / DECISIONS) === 0) {
      const id = decisionIds[seq / (BURST / DECISIONS) - 1]!;
      messages.push({ topic: nodeTopic(node.nodeId, "cmd/ack"), payload: JSON.stringify({ id, ok: true, appliedAt: Date.now() }) });
    }
  }
  const acknowledged = new Set<number>();
  const client = await connect(credentials);
  const killed = new Promise<void>((resolve) => {
    publishAll(client, messages, (index) => {
      acknowledged.add(index);
      if (index === messages.length - 1 - TAIL) void hub.kill().then(resolve);
    });
  });
  await killed;
  // Mosquitto still acknowledges the tail; the embedded broker died with the hub.
  if (broker === "mosquitto") await eventually(() => acknowledged.size === messages.length, 10_000, "Mosquitto's PUBACKs of the tail");
  client.end(true); // what the node was not acknowledged for it sends again, as the agent's outbox does

  hub = await startHubProcess(env);
  // After what it sends again, one more event: once the registry holds it, the hub is through with the rest.
  const last = BURST + 1;
  const resend = [...messages.filter((_, index) => !acknowledged.has(index)), { topic: nodeTopic(node.nodeId, "verdicts"), payload: verdictEvent(last) }];
  const again = await connect(credentials);
  for (const message of resend) await again.publishAsync(message.topic, message.payload, { qos: 1 });
  await again.endAsync();

  // The registry file, not the hub's memory: every seq counted once, every ack stored.
  const registry = openSqliteRegistry(dataDir);
  registries.push(registry);
  const tally = async () => (await registry.nodes.get(node.nodeId))!.live.verdicts;
  let seen = await tally();
  await eventually(async () => (seen = await tally()).lastSeq === last, 15_000, () => `registry holding seq ${last} (has ${JSON.stringify(seen)})\n${hub.output()}`);
  const counted = Object.values(seen.byVerdict).reduce((sum, n) => sum + n, 0);
  expect({ missing: seen.missing, counted }).toEqual({ missing: 0, counted: last });
  const unacked: string[] = [];
  for (const id of decisionIds) if (((await registry.decisions.get(id))?.acks.length ?? 0) === 0) unacked.push(id);
  expect(unacked).toEqual([]);
  await hub.kill();
}

describe("a hub kill -9 right after a burst of verdict events loses none", () => {
  test("embedded broker (dies with the hub)", () => killAfterBurst("embedded"), 60_000);
  test("Mosquitto (keeps the hub's session)", () => killAfterBurst("mosquitto"), 60_000);
});
