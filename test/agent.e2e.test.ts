// An agent end to end with a real hub (embedded broker) over real HTTP and
// MQTT: registration, birth and heartbeats, verdicts in order, decisions
// applied and acknowledged, and the outbox across a hub outage.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Agent, type AgentConfig } from "../agent/agent.ts";
import { intentStream } from "./fixtures/intents.ts";
import { freePort, removeTempDirs, tempDir } from "./helpers.ts";
import { callLocalApi, postJson, testAgentConfig, type TestAgentOverrides } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
const agents: Agent[] = [];
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  removeTempDirs();
});

function config(nodeId: string, overrides: TestAgentOverrides = {}): AgentConfig {
  return testAgentConfig(t, nodeId, { capabilities: ["kernel", "sim"], apiPort: 0, ...overrides });
}

async function node(nodeId: string) {
  return (await t.api("GET", `/federation/nodes/${nodeId}`)).body;
}

test("an agent registers, says who it is, heartbeats, and its verdicts reach the hub once each, in order", async () => {
  const agent = await Agent.start(config("agent-e2e-1"));
  agents.push(agent);
  const view = await eventually(async () => {
    const v = await node("agent-e2e-1");
    return v.heartbeat?.count >= 1 && v.state?.session >= 1 && v;
  }, 10_000, "birth and a heartbeat at the hub");
  expect(view).toMatchObject({ version: "0.1.0-test", capabilities: ["kernel", "sim"], health: { state: "healthy" } });
  expect(view.kernel_config_hash).toMatch(/^sha256:/);

  const intents = intentStream(40, { seed: 7, prefix: "e2e" });
  const response = await postJson(agent, "/v1/intents", intents);
  expect(response.status).toBe(200);
  const verdicts = response.body as { seq: number; verdict: string }[];
  expect(verdicts.map((v) => v.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  const tally = await eventually(async () => {
    const v = await node("agent-e2e-1");
    return v.verdicts.last_seq === 40 && v.verdicts;
  }, 10_000, "40 verdicts at the hub");
  expect(tally).toMatchObject({ duplicates: 0, missing: 0 });
  const passes = verdicts.filter((v) => v.verdict === "PASS").length;
  expect(tally.by_verdict.PASS ?? 0).toBe(passes);
  expect((tally.by_verdict.HOLD ?? 0) + (tally.by_verdict.PASS ?? 0)).toBe(40);
});

test("a decision from the hub is applied, persisted and acknowledged", async () => {
  const agent = await Agent.start(config("agent-e2e-2"));
  agents.push(agent);
  await eventually(async () => (await node("agent-e2e-2")).state?.session >= 1, 10_000, "agent online");
  const issued = await t.api("POST", "/api/federation/mode", { mode: "PAUSED", target: "agent-e2e-2" });
  expect(issued.status).toBe(201);
  const decision = await eventually(async () => {
    const r = await t.api("GET", "/api/federation/decisions?node=agent-e2e-2");
    return r.body.decisions.find((d: { id: string; acks: unknown[] }) => d.id === issued.body.id && d.acks.length === 1);
  }, 10_000, "the ack at the hub");
  expect(decision.acks[0]).toMatchObject({ node_id: "agent-e2e-2", ok: true });
  expect(agent.status()).toMatchObject({ mode: "PAUSED" });
  const held = await agent.submit([{ ...intentStream(1, { seed: 3, prefix: "paused" })[0]!, ts: Date.now() }]);
  expect(held[0]).toMatchObject({ verdict: "HOLD", mode: "PAUSED" });
  expect(held[0]!.reasons[0]).toBe("MODE_PAUSED"); // the primary reason
});

test("the local API refuses malformed bodies naming the problem and answers bad intents with a HOLD", async () => {
  const agent = await Agent.start(config("agent-e2e-3", { hubUrl: "" }));
  agents.push(agent);
  const post = (path: string, body: string, type?: string) => postJson(agent, path, body, type);
  expect((await post("/v1/intents", "{nope")).status).toBe(400);
  expect((await post("/v1/intents", "[]")).status).toBe(400);
  expect((await post("/v1/intents", "42")).status).toBe(400);
  expect((await post("/v1/intents", "{}", "text/plain")).status).toBe(415);
  const bad = await post("/v1/intents", JSON.stringify({ id: "bad-1", symbol: "BTCUSDT" }));
  expect(bad.status).toBe(200);
  const badVerdict = bad.body as { verdict: string; reasons: string[] };
  expect(badVerdict.verdict).toBe("HOLD");
  expect(badVerdict.reasons).toContain("INVALID_INPUT:qty");
  const close = await post("/v1/closes", JSON.stringify({ symbol: "BTCUSDT" }));
  expect(close.status).toBe(400);
  expect(close.body.detail).toContain("ts");
  const status = (await callLocalApi(agent, "/v1/status")).body;
  expect(status).toMatchObject({ node_id: "agent-e2e-3", registered: false, connectivity: "simulation" });
});

test("the local API refuses a close dated in the future with a 400 naming FUTURE_CLOSE, and records nothing of its request", async () => {
  const agent = await Agent.start(config("agent-future-close", { hubUrl: "" }));
  agents.push(agent);
  const closes = (body: unknown) => postJson(agent, "/v1/closes", body);
  const single = await closes({ symbol: "DOGEUSDT", ts: 4_070_908_800_000 });
  expect(single.status).toBe(400);
  expect(single.body).toEqual({ error: "invalid_close", detail: expect.stringMatching(/^FUTURE_CLOSE: ts 4070908800000 \(2099-01-01T00:00:00.000Z\) is more than 60 s ahead/) });
  const batch = await closes([{ symbol: "BTCUSDT", ts: Date.now() - 1000 }, { symbol: "DOGEUSDT", ts: Date.now() + 120_000 }]);
  expect(batch.status).toBe(400);
  expect(batch.body.detail).toStartWith("[1] FUTURE_CLOSE: ");
  // Neither symbol is held by a close: the good one of the refused batch was not recorded either.
  const [template] = intentStream(1, { seed: 9, prefix: "after-close" });
  const entry = { ...template!, side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now() };
  const verdicts = await agent.submit([
    { ...entry, id: "doge", symbol: "DOGEUSDT" },
    { ...entry, id: "btc", symbol: "BTCUSDT", ts: entry.ts + 1 },
  ]);
  expect(verdicts.map((v) => v.reasons)).toEqual([[], []]);
  const fine = await closes({ symbol: "DOGEUSDT", ts: Date.now() });
  expect(fine.body).toEqual({ recorded: 1 });
});

test("with the hub down the agent keeps judging in simulation mode, and replays everything in order when it is back", async () => {
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const ports = { EDGEFED_HTTP_PORT: String(httpPort), EDGEFED_MQTT_PORT: String(mqttPort) };
  let hub = await startTestHub({ env: ports });
  const dataDir = hub.dataDir;
  const agent = await Agent.start({ ...config("agent-outage"), hubUrl: hub.hub.httpUrl, enrollToken: hub.enrollmentToken() });
  agents.push(agent);
  const nodeAt = async (h: TestHub) => (await h.api("GET", "/federation/nodes/agent-outage")).body;
  await eventually(async () => (await nodeAt(hub)).state?.session >= 1, 10_000, "agent online");
  const intents = intentStream(30, { seed: 11, prefix: "outage" });
  await agent.submit(intents.slice(0, 10));
  await eventually(async () => (await nodeAt(hub)).verdicts.last_seq === 10, 10_000, "first 10 verdicts");

  await hub.stop();
  await eventually(() => !agent.online, 5000, "agent offline");
  const offlineVerdicts = await agent.submit(intents.slice(10));
  expect(offlineVerdicts.map((v) => v.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 11));
  expect(agent.status()).toMatchObject({ connectivity: "simulation", verdicts_queued_through: 30 });
  expect(agent.outbox.stats().byKind.verdicts).toBe(20);

  hub = await startTestHub({ env: ports, dataDir });
  try {
    const tally = await eventually(async () => {
      const v = await nodeAt(hub);
      return v.verdicts?.last_seq === 30 && v.verdicts;
    }, 15_000, "replayed verdicts at the hub");
    expect(tally.missing).toBe(0);
    expect(agent.online).toBe(true);
    await eventually(() => agent.outbox.stats().byKind.verdicts === 0, 5000, "outbox drained");
  } finally {
    await agent.stop();
    agents.splice(agents.indexOf(agent), 1);
    await hub.stop();
  }
}, 60_000);

test("with a real Mosquitto killed and restarted, the agent queues, waits for the hub, then replays everything in order", async () => {
  const { startMosquitto } = await import("./support/mosquitto.ts");
  const mosquitto = await startMosquitto({ dynsec: true });
  const hub = await startTestHub({ mosquitto });
  const agent = await Agent.start({ ...config("agent-mosquitto"), hubUrl: hub.hub.httpUrl, enrollToken: hub.enrollmentToken() });
  try {
    const nodeAt = async () => (await hub.api("GET", "/federation/nodes/agent-mosquitto")).body;
    await eventually(async () => (await nodeAt()).state?.session >= 1, 10_000, "agent online");
    const intents = intentStream(30, { seed: 13, prefix: "mq" });
    await agent.submit(intents.slice(0, 10));
    await eventually(async () => (await nodeAt()).verdicts.last_seq === 10, 10_000, "first 10 verdicts");

    await mosquitto.kill(); // no last will reaches anyone: the agent must not trust the old "hub online"
    await eventually(() => !agent.online, 5000, "agent offline");
    await agent.submit(intents.slice(10));
    expect(agent.outbox.stats().byKind.verdicts).toBe(20);

    await mosquitto.restart();
    const tally = await eventually(async () => {
      const v = await nodeAt();
      return v.verdicts?.last_seq === 30 && v.verdicts;
    }, 20_000, "replayed verdicts at the hub");
    expect(tally).toMatchObject({ missing: 0, duplicates: 0 });
  } finally {
    await agent.stop();
    await hub.stop();
    await mosquitto.stop();
  }
}, 60_000);

test("two devices on one identity (a cloned card) kick each other off, and the agent says so", async () => {
  const { cpSync } = await import("node:fs");
  const original = config("agent-clone");
  const first = await Agent.start(original);
  agents.push(first);
  await eventually(async () => (await node("agent-clone")).state?.session >= 1, 10_000, "first device online");
  await first.stop();
  agents.splice(agents.indexOf(first), 1);
  const copy = tempDir("edgefed-clone-");
  cpSync(original.dataDir, copy, { recursive: true });

  const logs: string[] = [];
  const a = await Agent.start({ ...original, reconnectMaxS: 1, log: (line) => logs.push(line) });
  const b = await Agent.start({ ...original, dataDir: copy, reconnectMaxS: 1, log: (line) => logs.push(line) });
  agents.push(a, b);
  await eventually(() => logs.some((line) => line.includes("is another device using node id agent-clone")), 30_000, "the clash to be reported");
});

test("an agent removed on the hub stays out in simulation mode, asking slowly, and comes back once readmitted", async () => {
  const logs: string[] = [];
  // A one-use token, as `token create` makes by default: spent by the first registration, it must still bring the node back.
  const agent = await Agent.start(config("agent-revoked", { enrollToken: t.enrollmentToken({ uses: 1 }), reconnectMaxS: 4, log: (line) => logs.push(line) }));
  agents.push(agent);
  await eventually(async () => (await node("agent-revoked")).state?.session >= 1, 10_000, "agent online");
  // A policy of its own before the removal (the hub forgets it when the node is removed).
  expect((await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: "agent-revoked" })).status).toBe(201);
  const mode = () => (agent.status() as { mode: string }).mode;
  await eventually(() => mode() === "SHADOW", 10_000, "the node's own policy in force");
  const intents = intentStream(10, { seed: 17, prefix: "removed" });
  await agent.submit(intents.slice(0, 5));
  await eventually(async () => (await node("agent-revoked")).verdicts?.last_seq === 5, 10_000, "first 5 verdicts at the hub");

  // Count the agent's registration calls (it runs in this process, so it calls this fetch).
  const attempts: number[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = Object.assign((input: RequestInfo | URL, init?: RequestInit) => {
    if (String(input instanceof Request ? input.url : input).endsWith("/federation/register")) attempts.push(Date.now());
    return realFetch(input, init);
  }, realFetch);
  try {
    expect((await t.api("DELETE", "/federation/nodes/agent-revoked")).status).toBe(200);
    await eventually(() => attempts.length >= 1 && logs.some((line) => line.includes("removed on the hub")), 10_000, "the refusal noticed");
    // Still judging, locally: the intent API works and marks it as simulation.
    const offline = await agent.submit(intents.slice(5));
    expect(offline.map((v) => v.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(agent.status()).toMatchObject({ connectivity: "simulation", removed_on_hub: true, registered: false });
    expect(agent.online).toBe(false);
    // At the slow end of its backoff (2 to 4 s here): at most one more try within 3.5 s of the first.
    await Bun.sleep(attempts[0]! + 3500 - Date.now());
    expect(attempts.length).toBeLessThanOrEqual(2);
    expect((await t.api("GET", "/federation/nodes/agent-revoked")).status).toBe(410);
    // One clear line, whatever the number of tries, and no secret in it.
    const removedLines = logs.filter((line) => line.includes("removed on the hub"));
    expect(removedLines).toHaveLength(1);
    expect(removedLines[0]).toContain("/federation/nodes/agent-revoked/readmit");
    expect(logs.some((line) => line.includes("registration refused"))).toBe(false);
    expect(logs.join("\n")).not.toContain(agent.store.registration(t.hub.httpUrl)!.mqtt.password);

    // A fleet decision while it is out: no cmd reaches a removed node, only the retained fleet policy records it.
    expect((await t.api("POST", "/api/federation/mode", { mode: "LIVE" })).status).toBe(201);
    expect(mode()).toBe("SHADOW");

    expect((await t.api("POST", "/federation/nodes/agent-revoked/readmit")).status).toBe(200);
    const back = await eventually(async () => {
      const v = await t.api("GET", "/federation/nodes/agent-revoked");
      return v.status === 200 && v.body.heartbeat?.count >= 1 && v.body.verdicts?.last_seq === 10 && v.body;
    }, 15_000, "the node registered, online again, with the verdicts judged while it was out");
    expect(back.health.state).toBe("healthy");
    expect(agent.online).toBe(true);
    expect(agent.status()).toMatchObject({ connectivity: "online", removed_on_hub: false, registered: true });
    expect(logs.some((line) => line.includes("readmitted on the hub"))).toBe(true);
    // The hub forgot the node's own policy at removal: back, the node follows the fleet's retained one again.
    await eventually(() => mode() === "LIVE", 10_000, "the retained fleet policy followed after readmission");
  } finally {
    globalThis.fetch = realFetch;
  }
}, 45_000);

test("an agent that was off while it was removed and readmitted follows the fleet policy again when it comes back", async () => {
  const original = config("agent-away", { enrollToken: t.enrollmentToken({ uses: 1 }) });
  const first = await Agent.start(original);
  const mode = (agent: Agent) => (agent.status() as { mode: string }).mode;
  await eventually(async () => (await node("agent-away")).state?.session >= 1, 10_000, "agent online");
  expect((await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: "agent-away" })).status).toBe(201);
  await eventually(() => mode(first) === "SHADOW", 10_000, "the node's own policy in force");
  await first.stop(); // off (a dead Pi is what gets removed) for the removal, a fleet decision, and the readmission
  expect((await t.api("DELETE", "/federation/nodes/agent-away")).status).toBe(200);
  expect((await t.api("POST", "/api/federation/mode", { mode: "LIVE" })).status).toBe(201);
  expect((await t.api("POST", "/federation/nodes/agent-away/readmit")).status).toBe(200);

  const logs: string[] = [];
  const again = await Agent.start({ ...original, log: (line) => logs.push(line) });
  agents.push(again);
  expect(mode(again)).toBe("SHADOW"); // what it had, until the hub says otherwise
  await eventually(() => mode(again) === "LIVE", 15_000, "the retained fleet policy followed");
  expect(logs.some((line) => line.includes("the hub keeps no policy of this node's own"))).toBe(true);
}, 30_000);

test("a time window from the hub (PAUSED for a slot) holds entries inside it only", async () => {
  const agent = await Agent.start(config("agent-window"));
  agents.push(agent);
  await eventually(async () => (await node("agent-window")).state?.session >= 1, 10_000, "agent online");
  const from = Date.now() + 20_000; // soon, and still within the kernel's 60 s of future skew
  const until = from + 3_600_000;
  const issued = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "agent-window", payload: { mode: "PAUSED", from, until, reason: "maintenance" } });
  expect(issued.status).toBe(201);
  await eventually(async () => {
    const r = await t.api("GET", "/api/federation/decisions?node=agent-window");
    return r.body.decisions[0]?.acks.length === 1;
  }, 10_000, "the ack");
  const [template] = intentStream(1, { seed: 3, prefix: "win" });
  const [before, inside] = await agent.submit([
    { ...template!, id: "win-before", ts: Date.now() },
    { ...template!, id: "win-inside", ts: from + 1000 },
  ]);
  expect(before!.mode).toBe("LIVE");
  expect(inside!.mode).toBe("PAUSED");
  expect(inside!.reasons[0]).toBe("MODE_PAUSED");
});
