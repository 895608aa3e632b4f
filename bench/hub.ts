// bun run bench hub [heartbeats|verdicts|http|reconnect]   (TLS=1: over TLS)
// (a) heartbeat ingest: 1,000 registered nodes, each with its own MQTT
//     connection and credentials, publish heartbeats through a real Mosquitto
//     (dynamic security on) while the subscriber is away, so the broker
//     holds a backlog; then the subscriber connects and drains it as fast as
//     it keeps up. value = heartbeats/s of the hub (its own process), from its
//     first message until the registry file shows every node's last
//     heartbeat; limit = a bare MQTT.js subscriber draining the same backlog
//     through the same broker in the same run. The publishers' speed is out
//     of both figures.
// (b) verdict ingest: the same with 100 nodes each queueing 1,000 verdict
//     events at QoS 1 (the hub acknowledges each only once the registry
//     holds it); done when the registry file holds every node's last seq.
// (c) HTTP under wrk: GET /federation/nodes/:id and POST /federation/register
//     (a new node per request) against the hub with the embedded broker;
//     limit = a bare Hono route on the same runtime in the same run,
//     answering a fixed body as large as the hub's node answer.
// RECEIPTS=1: in (b), each verdict event carries its outbox id (`ob`, = its
//     seq) as an agent does when the hub says it takes them, and each node
//     subscribes to its receipts, so the hub sends them (hub/mqtt/receipts.ts)
//     and Mosquitto delivers them; named hub-verdicts-receipts. Compare with
//     the same run without.
// DASHBOARD_SESSIONS=N (default 0): N dashboard sessions (login, page,
// fleet table, live stream and its refetches: support/dashboard-sessions.ts)
// are open on the hub while it drains a backlog (bench dashboard compares).
// TLS=1: all of it over TLS: the hub with EDGEFED_TLS=on (HTTPS API, MQTTS),
// Mosquitto with a TLS listener serving the hub's certificate, every client
// (nodes, the bare subscriber) pinning the hub's CA, and the bare route
// serving HTTPS with the hub's certificate; results named <bench>-tls.
// (d) reconnect storm (TLS=1 only, part `reconnect`): NODES registered nodes
//     connect to the embedded broker all at once, as after a hub restart,
//     each with a new TLS handshake (clean sessions: the transport's cost
//     only); value = connects/s until the last CONNACK; limit = the same
//     storm to the same hub's plaintext listener (EDGEFED_ALLOW_PLAINTEXT=1)
//     in the same run. The clients run in this process, so their side of
//     every handshake is in both figures.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { openDatabase } from "../lib/sqlite.ts";
import { withOutboxRef } from "../protocol/receipts.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { REGISTRY_FILE } from "../hub/store/sqlite/sqlite-store.ts";
import { startMosquitto } from "../test/support/mosquitto.ts";
import { freePort } from "../test/helpers.ts";
import { printResult, printTable, round } from "./report.ts";
import { startChild } from "./support/child.ts";
import { openDashboardSessions } from "./support/dashboard-sessions.ts";
import { BENCH_ADMIN_TOKEN, BENCH_TLS as TLS, createToken, hubProcessEnv, hubTls, PUBLIC_KEY, registerNodes, startHubProcess } from "./support/hub-process.ts";
import { runWrk, wrkAvailable } from "./support/wrk.ts";

const NODES = Number(process.env.NODES ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 1000); // heartbeats queued per node
const VERDICT_NODES = Number(process.env.VERDICT_NODES ?? 100);
const VERDICT_ROUNDS = Number(process.env.VERDICT_ROUNDS ?? 1000); // verdict events queued per node
const WRK_SECONDS = Number(process.env.WRK_SECONDS ?? 5);
const DASHBOARD_SESSIONS = Number(process.env.DASHBOARD_SESSIONS ?? 0);
const RECEIPTS = process.env.RECEIPTS === "1";
const ADMIN = BENCH_ADMIN_TOKEN;
const ROOT = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-hub-"));
const part = process.argv[3];

function heartbeat(seq: number): string {
  return JSON.stringify({
    seq,
    ts: Date.now(),
    uptime_s: seq,
    load: [0.3, 0.2, 0.1],
    rss_bytes: 50_000_000,
    mode: "LIVE",
    connectivity: "online",
    simulated: false,
    outbox_depth: 0,
    kernel: { evaluated: seq, passed: seq, held: 0, duplicates: 0, recovered: 0 },
  });
}

/**
 * Queues `rounds` heartbeats per node at the broker while the subscriber is
 * away, then waits until every publisher's socket has drained and a moment
 * more for the broker to file them. (A QoS 1 sentinel would be neater, but
 * Mosquitto 2.0.11 never delivered QoS 1 messages queued behind a QoS 0
 * backlog here.)
 */
async function queueHeartbeats(publishers: { nodeId: string; client: MqttClient }[], firstSeq: number, rounds: number): Promise<void> {
  const topics = publishers.map((p) => nodeTopic(p.nodeId, "heartbeat"));
  for (let round = 0; round < rounds; round++) {
    const payload = heartbeat(firstSeq + round);
    for (let i = 0; i < publishers.length; i++) publishers[i]!.client.publish(topics[i]!, payload, { qos: 0 });
    await Bun.sleep(1); // unpaced, some QoS 0 publishes never reached the broker
  }
  while (publishers.some((p) => p.client.stream.writableLength > 0)) await Bun.sleep(10);
  await Bun.sleep(1000);
}

/** Seconds from `start` (the subscriber's session is up) until `done()` holds. */
async function drainSeconds(who: string, start: number, done: () => Promise<boolean>): Promise<number> {
  const deadline = Date.now() + 120_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${who} did not drain the backlog in 120 s`);
    await Bun.sleep(5);
  }
  return (performance.now() - start) / 1000;
}

/**
 * Queues verdict events (QoS 1, seq 1..rounds per node) at the broker while
 * the subscriber is away; each publisher waits for the broker's PUBACKs, so
 * once all are in, the broker has them queued.
 */
async function queueVerdicts(publishers: { nodeId: string; client: MqttClient }[], rounds: number): Promise<void> {
  await Promise.all(
    publishers.map(async ({ nodeId, client }) => {
      const topic = nodeTopic(nodeId, "verdicts");
      for (let start = 1; start <= rounds; start += 100) {
        const seqs = Array.from({ length: Math.min(100, rounds - start + 1) }, (_, i) => start + i);
        await Promise.all(seqs.map((seq) => client.publishAsync(topic, verdictEvent(seq), { qos: 1 })));
      }
    }),
  );
}

/** With RECEIPTS=1 the event carries its outbox id (its seq: one outbox per node). */
function verdictEvent(seq: number): string {
  const event = JSON.stringify({
    seq,
    ts: Date.now(),
    simulated: false,
    symbol: "BTCUSDT",
    verdict: { id: `b-${seq}`, verdict: "HOLD", reasons: ["COOLDOWN"], enforced: true, mode: "LIVE", metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2 } },
  });
  return RECEIPTS ? withOutboxRef(event, seq) : event;
}

/** Subscribes each publisher to its receipts (RECEIPTS=1, verdicts): returns how many receipts they got and ids they were named, in total. */
async function countReceipts(publishers: { nodeId: string; client: MqttClient }[]): Promise<() => { messages: number; ids: number }> {
  let named = 0;
  let messages = 0;
  for (const { nodeId, client } of publishers) {
    client.on("message", (topic, payload) => {
      if (topic !== nodeTopic(nodeId, "receipts")) return;
      messages++;
      for (const [first, last] of (JSON.parse(payload.toString()) as { ob: [number, number][] }).ob) named += last - first + 1;
    });
    await client.subscribeAsync(nodeTopic(nodeId, "receipts"), { qos: 0 });
  }
  return () => ({ messages, ids: named });
}

/** One kind of node message drained from a backlog at the broker: what is queued, and where the registry keeps each node's last seq. */
interface Backlog {
  kind: "heartbeat" | "verdicts";
  nodes: number;
  /** Messages queued per node, seq 1..rounds. */
  rounds: number;
  queue(publishers: { nodeId: string; client: MqttClient }[], rounds: number): Promise<void>;
  /** JSON path of the node's last seq in the registry's `live` column. */
  lastSeqPath: string;
}

const HEARTBEATS: Backlog = { kind: "heartbeat", nodes: NODES, rounds: ROUNDS, queue: (publishers, rounds) => queueHeartbeats(publishers, 1, rounds), lastSeqPath: "$.heartbeatSeq" };
const VERDICTS: Backlog = { kind: "verdicts", nodes: VERDICT_NODES, rounds: VERDICT_ROUNDS, queue: queueVerdicts, lastSeqPath: "$.verdicts.lastSeq" };

/** Messages/s of the hub and of a bare MQTT.js subscriber, each draining the same backlog through Mosquitto. */
async function backlogIngest(backlog: Backlog): Promise<{ hub: number; bare: number; receipted: { messages: number; ids: number } | null }> {
  // Queue for offline persistent sessions without limit, QoS 0 included, so
  // each subscriber drains the same backlog as fast as it can.
  const dataDir = join(dir, `${backlog.kind}-hub`);
  const tls = hubTls(dataDir);
  const mosquitto = await startMosquitto({ dynsec: true, extraConfig: ["queue_qos0_messages true", "max_queued_messages 0", "max_queued_bytes 0"], tls: tls ?? false });
  const hubEnv = { EDGEFED_MQTT_URL: mosquitto.url, EDGEFED_MQTT_USERNAME: mosquitto.admin!.username, EDGEFED_MQTT_PASSWORD: mosquitto.admin!.password, EDGEFED_FLUSH_MS: "250" };
  const firstHub = await startHubProcess(dataDir, hubEnv);
  const token = await createToken(dataDir);
  const nodes = await registerNodes(firstHub.url, token, backlog.nodes, tls?.ca);
  const publishers: { nodeId: string; client: MqttClient }[] = [];
  for (const node of nodes) {
    const client = mqtt.connect(node.mqtt.url, {
      clientId: node.mqtt.client_id,
      username: node.mqtt.username,
      password: node.mqtt.password,
      reconnectPeriod: 0,
      queueQoSZero: false,
      ...(tls ? { ca: tls.ca, rejectUnauthorized: true } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    publishers.push({ nodeId: node.nodeId, client });
  }
  const receipted = RECEIPTS && backlog.kind === "verdicts" ? await countReceipts(publishers) : null;
  await firstHub.child.stop(); // its persistent session stays; the broker queues for it

  const bareArgs = [join(import.meta.dir, "support/bare-subscriber.ts"), mosquitto.url, mosquitto.admin!.username, mosquitto.admin!.password, `edgefed/v1/nodes/+/${backlog.kind}`];
  const bareEnv: Record<string, string> = tls ? { CA_FILE: tls.caFile } : {};
  await (await startChild(bareArgs, bareEnv, /port (\d+)/)).stop(); // creates its session and subscription
  await backlog.queue(publishers, backlog.rounds);
  const total = backlog.nodes * backlog.rounds;

  // Each clock starts when the subscriber's session is set up (the backlog starts flowing at once).
  const bare = await startChild(bareArgs, bareEnv, /(connected)/);
  const bareStart = performance.now();
  const barePort = await bare.waitFor(/port (\d+)/);
  const bareCount = async () => ((await (await fetch(`http://127.0.0.1:${barePort}/`)).json()) as { count: number }).count;
  const bareSeconds = await drainSeconds("bare subscriber", bareStart, async () => (await bareCount()) >= total);
  await bare.stop();

  const registry = openDatabase(join(dataDir, REGISTRY_FILE));
  const current = registry.prepare(`SELECT count(*) AS n FROM nodes WHERE json_extract(live, '${backlog.lastSeqPath}') = ?`);
  const hub = await startChild([join(ROOT, "hub/main.ts")], { ...hubProcessEnv(dataDir), ...hubEnv }, /(connected to broker)/);
  const hubStart = performance.now();
  // Opened as soon as the hub listens, while the drain has begun.
  const dashboards = DASHBOARD_SESSIONS > 0 ? hub.waitFor(/HTTP API on [\d.]+:(\d+)/).then((port) => openDashboardSessions(`${TLS ? "https" : "http"}://127.0.0.1:${port}`, ADMIN, DASHBOARD_SESSIONS)) : null;
  // Done when the registry file (not just memory) holds every node's last message.
  const hubSeconds = await drainSeconds("hub", hubStart, async () => current.get<{ n: number }>(backlog.rounds)!.n === nodes.length);
  if (dashboards) {
    const sessions = await dashboards;
    console.log(`${DASHBOARD_SESSIONS} dashboard sessions open during the drain: ${JSON.stringify(sessions.stats())}`);
    await sessions.stop();
  }
  registry.close();
  // The last receipts go after the last commit: waited for (bounded), to report how many came.
  for (const until = Date.now() + 10_000; receipted && receipted().ids < total && Date.now() < until; ) await Bun.sleep(10);
  await hub.stop();
  for (const p of publishers) p.client.end(true);
  await mosquitto.stop();
  return { hub: total / hubSeconds, bare: total / bareSeconds, receipted: receipted && receipted() };
}

async function httpLoad(): Promise<{ reads: number; readLimit: number; registrations: number }> {
  if (!wrkAvailable()) throw new Error("wrk is not installed (apt-get install wrk)");
  const dataDir = join(dir, "http-hub");
  const tls = hubTls(dataDir);
  // One address and one token at full speed is what the rate limits stop: raised far past what wrk sends, so it measures the API (the limiter's own cost included).
  const unlimited = String(1e9);
  const hub = await startHubProcess(dataDir, { EDGEFED_RATE_REGISTER_BURST: unlimited, EDGEFED_RATE_REGISTER_PER_S: unlimited, EDGEFED_RATE_ADMIN_BURST: unlimited, EDGEFED_RATE_ADMIN_PER_S: unlimited });
  const token = await createToken(dataDir);
  await registerNodes(hub.url, token, 100, tls?.ca);
  const nodeBytes = (await (await fetch(`${hub.url}/federation/nodes/hb-00042`, { headers: { authorization: `Bearer ${ADMIN}` }, ...(tls ? { tls: { ca: tls.ca } } : {}) })).arrayBuffer()).byteLength;
  // Over TLS the bare route serves the hub's own certificate, so both pay the same handshakes and encryption.
  const bareEnv: Record<string, string> = { BODY_BYTES: String(nodeBytes), ...(tls ? { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile } : {}) };
  const bare = await startChild([join(import.meta.dir, "support/bare-route.ts")], bareEnv, /port (\d+)/);
  const options = { dir, seconds: WRK_SECONDS, connections: 64 };
  const readLimit = await runWrk(`${TLS ? "https" : "http"}://127.0.0.1:${bare.ready}/bare/hb-00042`, options);
  const reads = await runWrk(`${hub.url}/federation/nodes/hb-00042`, { ...options, headers: [`Authorization: Bearer ${ADMIN}`] });
  const registrations = await runWrk(`${hub.url}/federation/register`, {
    ...options,
    script: `
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"node_id":"w-%d-%d","public_key":"${PUBLIC_KEY}","capabilities":["kernel"],"arch":"arm64","version":"bench"}', math.random(1, 1000000000), counter)
  return wrk.format("POST", nil, {["Authorization"] = "Bearer ${token}", ["Content-Type"] = "application/json"}, body)
end`,
  });
  await bare.stop();
  await hub.child.stop();
  for (const run of [readLimit, reads, registrations]) if (run.non2xx > 0) throw new Error(`wrk saw ${run.non2xx} non-2xx responses`);
  return { reads: reads.requestsPerSecond, readLimit: readLimit.requestsPerSecond, registrations: registrations.requestsPerSecond };
}

/** Seconds until every node has its CONNACK, all connecting at once; each connection is closed after. */
async function connectStorm(nodes: Awaited<ReturnType<typeof registerNodes>>, url: string, ca: string | undefined): Promise<number> {
  const start = performance.now();
  const clients = await Promise.all(
    nodes.map(
      ({ mqtt: credentials }) =>
        new Promise<MqttClient>((resolve, reject) => {
          const client = mqtt.connect(url, {
            clientId: credentials.client_id,
            username: credentials.username,
            password: credentials.password,
            clean: true,
            reconnectPeriod: 0,
            connectTimeout: 60_000,
            ...(ca ? { ca, rejectUnauthorized: true } : {}),
          });
          client.once("connect", () => resolve(client));
          client.once("error", reject);
        }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((client) => client.endAsync(true)));
  return seconds;
}

async function reconnectStorm(): Promise<{ tls: number; tlsSeconds: number; plaintext: number }> {
  if (!TLS) throw new Error("the reconnect part measures TLS handshakes: run it with TLS=1");
  const dataDir = join(dir, "reconnect-hub");
  const tls = hubTls(dataDir)!;
  const [plaintextPort, mqttsPort] = [await freePort(), await freePort()];
  const hub = await startHubProcess(dataDir, { EDGEFED_ALLOW_PLAINTEXT: "1", EDGEFED_MQTT_PORT: String(plaintextPort), EDGEFED_MQTTS_PORT: String(mqttsPort) });
  const token = await createToken(dataDir);
  const nodes = await registerNodes(hub.url, token, NODES, tls.ca);
  const plaintextSeconds = await connectStorm(nodes, `mqtt://127.0.0.1:${plaintextPort}`, undefined);
  const tlsSeconds = await connectStorm(nodes, `mqtts://127.0.0.1:${mqttsPort}`, tls.ca);
  await hub.child.stop();
  return { tls: nodes.length / tlsSeconds, tlsSeconds, plaintext: nodes.length / plaintextSeconds };
}

const runs = (name: string) => part === undefined || part === name;

try {
  const heartbeats = runs("heartbeats") ? await backlogIngest(HEARTBEATS) : null;
  const verdicts = runs("verdicts") ? await backlogIngest(VERDICTS) : null;
  const http = runs("http") ? await httpLoad() : null;
  // Only asked for by name: it needs TLS=1.
  const reconnect = part === "reconnect" || (part === undefined && TLS) ? await reconnectStorm() : null;
  const rows: [string, string | number][] = [];
  if (heartbeats) {
    rows.push(["heartbeats/s into the hub (registry current)", heartbeats.hub], ["heartbeats/s bare MQTT.js subscriber (limit)", heartbeats.bare]);
    rows.push(["ratio (target >= 0.7)", round(heartbeats.hub / heartbeats.bare, 3)]);
  }
  if (verdicts) {
    rows.push(["verdict events/s into the hub (registry current)", verdicts.hub], ["verdict events/s bare MQTT.js subscriber (limit)", verdicts.bare]);
    rows.push(["verdict ratio", round(verdicts.hub / verdicts.bare, 3)]);
    if (verdicts.receipted !== null) rows.push(["outbox ids named in receipts the nodes got", verdicts.receipted.ids], ["receipt messages they came in", verdicts.receipted.messages]);
  }
  if (http) {
    rows.push(["GET /federation/nodes/:id req/s", http.reads], ["bare Hono route req/s (limit)", http.readLimit]);
    rows.push(["read ratio (target >= 0.5)", round(http.reads / http.readLimit, 3)], ["POST /federation/register req/s (target >= 5,000)", http.registrations]);
  }
  if (reconnect) {
    rows.push([`MQTTS connects/s, ${NODES} nodes at once (TLS handshakes)`, reconnect.tls], ["seconds until all are connected", round(reconnect.tlsSeconds, 2)]);
    rows.push(["plaintext MQTT connects/s, same storm (limit)", reconnect.plaintext], ["TLS/plaintext ratio", round(reconnect.tls / reconnect.plaintext, 3)]);
  }
  const parts = [
    heartbeats && `${NODES} nodes x ${ROUNDS} heartbeats drained through Mosquitto`,
    verdicts && `${VERDICT_NODES} nodes x ${VERDICT_ROUNDS} verdict events (QoS 1${RECEIPTS ? ", with outbox ids: receipted" : ""}) drained through Mosquitto`,
    http && `wrk ${WRK_SECONDS} s, 64 connections`,
    reconnect && `${NODES} nodes connecting at once`,
  ];
  printTable(`hub${TLS ? " over TLS" : ""}: ${parts.filter(Boolean).join("; ")}`, rows);
  const name = (bench: string) => (TLS ? `${bench}-tls` : bench);
  const verdictFigures = verdicts && { verdicts_per_s: Math.round(verdicts.hub), verdicts_limit: Math.round(verdicts.bare), verdicts_ratio: round(verdicts.hub / verdicts.bare, 3) };
  const reconnectFigures = reconnect && { tls_connects_per_s: Math.round(reconnect.tls), all_connected_s: round(reconnect.tlsSeconds, 2), plaintext_connects_per_s: Math.round(reconnect.plaintext) };
  const httpFigures = http && { reads_per_s: Math.round(http.reads), reads_limit: Math.round(http.readLimit), reads_ratio: round(http.reads / http.readLimit, 3), registrations_per_s: Math.round(http.registrations) };
  if (heartbeats) {
    printResult({ bench: name("hub"), value: Math.round(heartbeats.hub), unit: "heartbeats/s", limit: Math.round(heartbeats.bare), extra: { ...verdictFigures, ...httpFigures, ...reconnectFigures } });
  } else if (verdicts) {
    const receiptFigures: Record<string, number> = verdicts.receipted !== null ? { receipted_ids: verdicts.receipted.ids, receipt_messages: verdicts.receipted.messages } : {};
    printResult({ bench: name(RECEIPTS ? "hub-verdicts-receipts" : "hub-verdicts"), value: Math.round(verdicts.hub), unit: "verdict events/s", limit: Math.round(verdicts.bare), extra: { ...receiptFigures, ...httpFigures } });
  } else if (http) {
    printResult({ bench: name("hub-http"), value: Math.round(http.reads), unit: "requests/s", limit: Math.round(http.readLimit), extra: { registrations_per_s: Math.round(http.registrations) } });
  } else if (reconnect) {
    printResult({ bench: "hub-reconnect-tls", value: Math.round(reconnect.tls), unit: "connects/s", limit: Math.round(reconnect.plaintext), extra: { all_connected_s: round(reconnect.tlsSeconds, 2) } });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
