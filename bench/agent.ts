// bun run bench agent
// (a) the agent's RSS after start, after 100,000 intents through its local
//     API and after 6 s idle, split into RssAnon and RssFile: the x64
//     single-file binary as it ships, simulation only; once more with
//     BUN_JSC_useJIT=0 (interpreter only) in its environment;
// (b) start to first heartbeat: a registered agent started again, from spawn
//     until the hub has its first heartbeat;
// (c) outbox replay: the hub (embedded broker) goes away, the agent queues
//     100,000 verdict events, the hub comes back; value = events/s from the
//     agent's "online" to the hub holding the last seq; limit = raw MQTT.js
//     QoS 1 publishing of the same messages, in the same batches, with the
//     node's credentials, to the same broker and hub in the same run.
//     (b) and (c) run over TLS (HTTPS, MQTTS), as every hub does by default.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { DRAIN_BATCH } from "../agent/agent-mqtt.ts";
import { openDatabase } from "../lib/sqlite.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { freePort } from "../test/helpers.ts";
import { hubCaFile, seedTestTls, testFetch, trustedTestCas } from "../test/support/test-tls.ts";
import { printResult, printTable, round } from "./report.ts";
import { startChild, type Child } from "./support/child.ts";

const ROOT = join(import.meta.dir, "..");
const INTENTS = Number(process.env.INTENTS ?? 100_000);
const ADMIN = "bench-admin-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-agent-"));
/** VmRSS and its parts (MB): RssAnon (the allocators' memory) and RssFile (pages of the binary itself, its code touched so far). */
function rss(pid: number): { total: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
  return { total: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}
const mb = (r: { total: number; anon: number; file: number }) => `${round(r.total, 1)} (anon ${round(r.anon, 1)}, file ${round(r.file, 1)})`;

function agentEnvFile(name: string, settings: Record<string, string>): string {
  const file = join(dir, `${name}.env`);
  const all = { EDGEFED_DATA_DIR: join(dir, name), EDGEFED_KERNEL_CONFIG: join(ROOT, "examples/core_gates.env"), EDGEFED_API_SOCKET: join(dir, `${name}.sock`), EDGEFED_NODE_ID: name, ...settings };
  writeFileSync(file, Object.entries(all).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  return file;
}

/** The ready line names the local API's socket, which the intents are posted to (as a strategy in the group does). */
const API_READY = /local intent API on unix:(\S+)"/;
const startAgent = (envFile: string, ready = API_READY) => startChild([join(ROOT, "agent/main.ts")], { EDGEFED_AGENT_ENV: envFile }, ready);

async function postIntents(socket: string, count: number, prefix: string): Promise<number> {
  const intents = intentStream(count, { seed: 9, prefix });
  const start = performance.now();
  for (let i = 0; i < count; i += 1000) {
    const r = await fetch("http://localhost/v1/intents", { unix: socket, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(intents.slice(i, i + 1000)) });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    await r.arrayBuffer();
  }
  return count / ((performance.now() - start) / 1000);
}

type Rss = ReturnType<typeof rss>;

function buildBinary(): string {
  const binary = join(dir, "edgefed-agent-linux-x64");
  const build = Bun.spawnSync([process.execPath, "build", join(ROOT, "agent/main.ts"), "--compile", "--minify", "--target=bun-linux-x64", "--outfile", binary]);
  if (build.exitCode !== 0) throw new Error(build.stderr.toString());
  return binary;
}

/**
 * The binary's RSS, simulation only: 0.5 s after start, 0.5 s after INTENTS
 * intents, and after 6 s idle (Bun's GC-on-idle has run). `env` adds to the
 * agent's environment (an operator's systemd Environment=). Before each start
 * the binary leaves the page cache, so it is read from disk as after an
 * install or a reboot: a file just written maps about 5 MB more of itself
 * (RssFile 40 to 45 MB at start instead of 35).
 */
async function memory(binary: string, name: string, env: Record<string, string> = {}): Promise<{ atStart: Rss; after: Rss; idle: Rss; intentsPerS: number }> {
  Bun.spawnSync(["sync", binary]);
  Bun.spawnSync(["dd", `if=${binary}`, "iflag=nocache", "count=0", "status=none"]); // best effort (GNU dd)
  const agent = await startChild([], { EDGEFED_AGENT_ENV: agentEnvFile(name, { EDGEFED_OFFLINE: "1" }), ...env }, API_READY, 20_000, binary);
  await Bun.sleep(500);
  const atStart = rss(agent.process.pid!);
  const intentsPerS = await postIntents(agent.ready, INTENTS, "mem");
  await Bun.sleep(500);
  const after = rss(agent.process.pid!);
  await Bun.sleep(6000);
  const idle = rss(agent.process.pid!);
  await agent.stop();
  return { atStart, after, idle, intentsPerS };
}

async function startHub(dataDir: string, ports: { http: number; mqtt: number }, env: Record<string, string> = {}): Promise<Child> {
  return startChild(
    [join(ROOT, "hub/main.ts")],
    { EDGEFED_DATA_DIR: dataDir, EDGEFED_HTTP_HOST: "127.0.0.1", EDGEFED_HTTP_PORT: String(ports.http), EDGEFED_MQTT_HOST: "127.0.0.1", EDGEFED_MQTTS_PORT: String(ports.mqtt), EDGEFED_ADMIN_TOKEN: ADMIN, EDGEFED_HEARTBEAT_S: "15", EDGEFED_FLUSH_MS: "100", ...env },
    /HTTP API on [\d.]+:(\d+)/,
  );
}

async function nodeView(httpPort: number, nodeId: string): Promise<{ heartbeat: { count: number }; verdicts: { last_seq: number } }> {
  return (await (await testFetch(`https://127.0.0.1:${httpPort}/federation/nodes/${nodeId}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as never;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

async function withHub(): Promise<{ firstHeartbeatMs: number; replay: number; rawPublish: number }> {
  const ports = { http: await freePort(), mqtt: await freePort() };
  const hubDir = join(dir, "hub");
  seedTestTls(hubDir); // TLS as in production: the agent pins the hub's CA (the test run's), as from its card
  let hub = await startHub(hubDir, ports);
  const token = Bun.spawnSync([process.execPath, join(ROOT, "hub/main.ts"), "token", "create", "--uses", "5", "--data-dir", hubDir]).stdout.toString().trim();
  const envFile = agentEnvFile("replay-pi", { EDGEFED_HUB_URL: `https://127.0.0.1:${ports.http}`, EDGEFED_HUB_CA: hubCaFile(hubDir), EDGEFED_ENROLL_TOKEN: token });

  // (b) register once, then time a second start.
  let agent = await startAgent(envFile);
  await until(async () => (await nodeView(ports.http, "replay-pi")).heartbeat?.count >= 1, 20_000, "first registration");
  await agent.stop();
  const before = (await nodeView(ports.http, "replay-pi")).heartbeat.count;
  const spawnedAt = performance.now();
  agent = await startAgent(envFile);
  await until(async () => (await nodeView(ports.http, "replay-pi")).heartbeat.count > before, 10_000, "first heartbeat");
  const firstHeartbeatMs = performance.now() - spawnedAt;

  // (c) the hub goes away; the agent queues INTENTS verdict events.
  await hub.stop();
  await postIntents(agent.ready, INTENTS, "replay");
  hub = await startHub(hubDir, ports);
  await agent.waitFor(/(online: replaying)/, 60_000);
  const replayStart = performance.now();
  await until(async () => (await nodeView(ports.http, "replay-pi")).verdicts.last_seq >= INTENTS, 300_000, "the replay");
  const replay = INTENTS / ((performance.now() - replayStart) / 1000);
  await agent.stop();

  // The limit: the same messages from the node's own credentials, published raw. Another INTENTS
  // messages from one node within seconds of its replay is past its MQTT publish budget (the replay
  // above ran under the default): a hub with the budget raised measures the raw rate.
  await hub.stop();
  hub = await startHub(hubDir, ports, { EDGEFED_RATE_MQTT_PUBLISH_BURST: String(10 * INTENTS) });
  const store = openDatabase(join(dir, "replay-pi", "agent.sqlite"));
  const creds = store.prepare("SELECT mqtt_url, mqtt_username, mqtt_password FROM hubs").get<{ mqtt_url: string; mqtt_username: string; mqtt_password: string }>()!;
  store.close();
  const client = await mqtt.connectAsync(creds.mqtt_url, { clientId: "replay-pi", username: creds.mqtt_username, password: creds.mqtt_password, ca: trustedTestCas(), clean: true, reconnectPeriod: 0 });
  const topic = nodeTopic("replay-pi", "verdicts");
  const payloads = Array.from({ length: DRAIN_BATCH }, (_, i) =>
    JSON.stringify({ seq: INTENTS + 1 + i, ts: Date.now(), simulated: true, symbol: "BTCUSDT", verdict: { id: `raw-${i}`, verdict: "HOLD", reasons: ["COOLDOWN"], enforced: true, mode: "LIVE", metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2 } } }),
  );
  const rawStart = performance.now();
  for (let sent = 0; sent < INTENTS; sent += DRAIN_BATCH) await Promise.all(payloads.map((p) => client.publishAsync(topic, p, { qos: 1 })));
  const rawPublish = INTENTS / ((performance.now() - rawStart) / 1000);
  await client.endAsync();
  await hub.stop();
  return { firstHeartbeatMs, replay, rawPublish };
}

try {
  const binary = buildBinary();
  const mem = await memory(binary, "mem-pi");
  const noJit = await memory(binary, "mem-nojit-pi", { BUN_JSC_useJIT: "0" });
  const live = await withHub();
  printTable(`agent: ${INTENTS} intents; embedded-broker hub as its own process`, [
    ["RSS after start (MB, target < 60)", mb(mem.atStart)],
    [`RSS after ${INTENTS} intents (MB, target < 60)`, mb(mem.after)],
    ["RSS after 6 s idle", mb(mem.idle)],
    ["intents/s through the local API (1,000 per request)", mem.intentsPerS],
    ["with BUN_JSC_useJIT=0: RSS after start", mb(noJit.atStart)],
    [`with BUN_JSC_useJIT=0: RSS after ${INTENTS} intents`, mb(noJit.after)],
    ["with BUN_JSC_useJIT=0: RSS after 6 s idle", mb(noJit.idle)],
    ["with BUN_JSC_useJIT=0: intents/s", noJit.intentsPerS],
    ["start to first heartbeat at the hub (ms, target < 300)", round(live.firstHeartbeatMs, 0)],
    ["outbox replay, events/s", live.replay],
    ["raw MQTT.js QoS 1 publishing (limit)", live.rawPublish],
    ["replay ratio (target >= 0.5)", round(live.replay / live.rawPublish, 3)],
  ]);
  printResult({
    bench: "agent",
    value: Math.round(live.replay),
    unit: "replayed events/s",
    limit: Math.round(live.rawPublish),
    extra: {
      rss_start_mb: round(mem.atStart.total, 1),
      rss_after_mb: round(mem.after.total, 1),
      rss_after_anon_mb: round(mem.after.anon, 1),
      rss_after_file_mb: round(mem.after.file, 1),
      rss_idle_mb: round(mem.idle.total, 1),
      rss_after_nojit_mb: round(noJit.after.total, 1),
      intents_per_s_nojit: Math.round(noJit.intentsPerS),
      first_heartbeat_ms: Math.round(live.firstHeartbeatMs),
      intents_per_s: Math.round(mem.intentsPerS),
    },
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
