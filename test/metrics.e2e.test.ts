// The hub's GET /metrics against a real hub over real HTTP, with a real agent
// (embedded broker): the token is required, the text format parses, and the
// counters move when the thing they count happens: a registration accepted
// and refused, a verdict ingested and committed, a message dropped, a
// decision issued and acknowledged (and one left pending), the fleet frozen,
// an alert, an HTTP request by its route pattern. Per-node gauges only when
// asked for, and two hubs in one process keep their own registries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Agent } from "../agent/agent.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { METRICS_TOKEN_FILE } from "../hub/identity/hub-identity.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { callLocalApi, startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { parsePrometheusText, sampleValue, type Exposition } from "./support/prometheus-text.ts";

let t: TestHub;
let metricsToken: string;
const agents: Agent[] = [];

beforeAll(async () => {
  t = await startTestHub();
  metricsToken = readFileSync(join(t.dataDir, METRICS_TOKEN_FILE), "utf8").trim();
});
afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  removeTempDirs();
});

async function getMetrics(hub: TestHub, token: string | null): Promise<Response> {
  return hub.fetch(`/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

async function scrape(hub = t, token = metricsToken): Promise<Exposition> {
  const response = await getMetrics(hub, token);
  expect(response.status).toBe(200);
  return parsePrometheusText(await response.text());
}

/** Waits until the scraped value of `name` with `labels` passes `check`; returns the exposition. */
async function scrapedUntil(name: string, labels: Record<string, string>, check: (value: number) => boolean, what: string): Promise<Exposition> {
  let last = NaN;
  return eventually(
    async () => {
      const exposition = await scrape();
      last = sampleValue(exposition, name, labels);
      return check(last) && exposition;
    },
    10_000,
    () => `${what} (${name}${JSON.stringify(labels)} is ${last})`,
  );
}

let intentCounter = 0;
const entry = () => ({ id: `m-${++intentCounter}`, symbol: "BTCUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now() });

describe("GET /metrics", () => {
  test("needs the metrics token (generated into <data-dir>/metrics-token) or the admin token; another gets 401", async () => {
    for (const token of [null, "not-a-token", t.watchToken]) {
      const response = await getMetrics(t, token);
      expect([response.status, await response.json()]).toEqual([401, { error: "unauthorized", detail: expect.stringContaining("metrics token") }]);
    }
    for (const token of [metricsToken, t.adminToken]) {
      const response = await getMetrics(t, token);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    }
    // The metrics token opens nothing else.
    expect((await t.api("GET", "/api/federation/status", undefined, metricsToken)).status).toBe(401);
  });

  test("parses as Prometheus text: the hub's families with their types, and process metrics", async () => {
    const exposition = await scrape();
    expect(exposition.types.get("edgefed_nodes")).toBe("gauge");
    expect(exposition.types.get("edgefed_registrations_total")).toBe("counter");
    expect(exposition.types.get("edgefed_ingest_lag_seconds")).toBe("histogram");
    expect(exposition.types.get("edgefed_registry_commit_seconds")).toBe("histogram");
    expect(exposition.types.get("edgefed_http_request_duration_seconds")).toBe("histogram");
    expect(sampleValue(exposition, "process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(sampleValue(exposition, "edgefed_registry_commit_seconds_count")).toBeGreaterThan(0); // the hub's key pair and token hashes
    // Every node id label is opt-in: none by default.
    expect(exposition.samples.filter((s) => "node" in s.labels)).toEqual([]);
  });

  test("a registration accepted and one refused, a verdict committed, a message dropped: each counted", async () => {
    const before = await scrape();
    const accepted = sampleValue(before, "edgefed_registrations_total", { outcome: "accepted", reason: "new" });
    const refused = sampleValue(before, "edgefed_registrations_total", { outcome: "refused", reason: "invalid_token" });

    const agent = await startOnlineAgent(t, testAgentConfig(t, "metrics-agent", { gateConfig: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: 0 } }), agents);
    const refusal = await t.api("POST", "/federation/register", registerBody(newNode("metrics-refused")), "no-such-enrollment-token");
    expect(refusal.status).toBe(401);
    let exposition = await scrape();
    expect(sampleValue(exposition, "edgefed_registrations_total", { outcome: "accepted", reason: "new" })).toBe(accepted + 1);
    expect(sampleValue(exposition, "edgefed_registrations_total", { outcome: "refused", reason: "invalid_token" })).toBe(refused + 1);
    expect(sampleValue(exposition, "edgefed_nodes_by_mode", { mode: "LIVE" }) + sampleValue(exposition, "edgefed_nodes_by_mode", { mode: "unknown" })).toBe(1);

    const lagCount = sampleValue(exposition, "edgefed_ingest_lag_seconds_count", { kind: "verdicts" });
    await agent.submit([entry()]);
    exposition = await scrapedUntil("edgefed_ingest_lag_seconds_count", { kind: "verdicts" }, (n) => n === lagCount + 1, "the verdict event committed");
    expect(sampleValue(exposition, "edgefed_ingest_applied_total")).toBeGreaterThan(0);

    // A node sending garbage on its own topic: dropped, by reason.
    const node = newNode("metrics-raw");
    const registered = await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken());
    expect(registered.status).toBe(201);
    const client = await connectNode(registered.body.mqtt);
    const dropped = sampleValue(exposition, "edgefed_ingest_dropped_total", { reason: "invalid payload" });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), '{"not":"a heartbeat"}', { qos: 0 });
    await scrapedUntil("edgefed_ingest_dropped_total", { reason: "invalid payload" }, (n) => n === dropped + 1, "the bad heartbeat dropped");
    exposition = await scrape();
    expect(sampleValue(exposition, "edgefed_mqtt_connected_clients")).toBeGreaterThanOrEqual(3); // the hub, the agent, the raw node
    const nodes = exposition.samples.filter((s) => s.name === "edgefed_nodes").reduce((sum, s) => sum + s.value, 0);
    expect(nodes).toBe(t.hub.context.fleet.size);
    await client.endAsync();
  });

  test("a decision issued and acknowledged, one left pending, the fleet frozen: counted by type and origin", async () => {
    const acker = await startOnlineAgent(t, testAgentConfig(t, "metrics-acker", { apiPort: 0 }), agents);
    const silent = newNode("metrics-silent"); // registered, never connects: never acknowledges
    expect((await t.api("POST", "/federation/register", registerBody(silent), t.enrollmentToken())).status).toBe(201);
    const before = await scrape();
    const issued = sampleValue(before, "edgefed_decisions_issued_total", { type: "MODE_CHANGE", origin: "operator" });
    const acked = sampleValue(before, "edgefed_decision_acks_total", { type: "MODE_CHANGE", origin: "operator", result: "ok" });

    const toAgent = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "metrics-acker", payload: { mode: "SHADOW" } });
    expect(toAgent.status).toBe(201);
    const exposition = await scrapedUntil("edgefed_decision_acks_total", { type: "MODE_CHANGE", origin: "operator", result: "ok" }, (n) => n === acked + 1, "the agent's ack");
    expect(sampleValue(exposition, "edgefed_decisions_issued_total", { type: "MODE_CHANGE", origin: "operator" })).toBe(issued + 1);
    // The agent's own /v1/metrics says the same from its side: online, the decision's mode and policy in force.
    const agentMetrics = parsePrometheusText((await callLocalApi(acker, "/v1/metrics")).body);
    expect(sampleValue(agentMetrics, "edgefed_agent_online")).toBe(1);
    expect(sampleValue(agentMetrics, "edgefed_agent_mode", { mode: "SHADOW" })).toBe(1);
    expect(sampleValue(agentMetrics, "edgefed_agent_policy_version")).toBeGreaterThan(0);

    const toSilent = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: silent.nodeId, payload: { mode: "PAUSED" } });
    expect(toSilent.status).toBe(201);
    const pending = await scrape();
    expect(sampleValue(pending, "edgefed_decisions_pending", { type: "MODE_CHANGE", origin: "operator" })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(pending, "edgefed_decision_oldest_pending_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(sampleValue(pending, "edgefed_fleet_frozen")).toBe(0);
    expect(sampleValue(pending, "edgefed_fleet_policy_mode", { mode: "LIVE" })).toBe(1);
    expect(sampleValue(pending, "edgefed_fleet_policy_capital_profile", { profile: "none" })).toBe(1);

    // One that expires unacknowledged: counted as expired on the very first scrape after (the store read
    // fills three gauges; each must wait for it, not show the scrape before's).
    const expiring = await t.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: silent.nodeId, payload: { max_leverage: 2 }, expires_in_s: 1 });
    expect(expiring.status).toBe(201);
    await eventually(() => Date.now() > expiring.body.expiresAt, 5000, "the decision's expiry");
    const expired = await scrape();
    expect(sampleValue(expired, "edgefed_decisions_expired_unacked", { type: "RISK_ADJUSTMENT", origin: "operator" })).toBe(1);
    expect(sampleValue(expired, "edgefed_decisions_pending", { type: "RISK_ADJUSTMENT", origin: "operator" })).toBe(0);
    expect(sampleValue(expired, "edgefed_decision_oldest_pending_age_seconds")).toBeGreaterThan(0);

    const freeze = await t.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { duration_minutes: 5, reason: "metrics test", severity: "HIGH" } });
    expect(freeze.status).toBe(201);
    const frozen = await scrape();
    expect(sampleValue(frozen, "edgefed_fleet_frozen")).toBe(1);
    expect(sampleValue(frozen, "edgefed_fleet_policy_mode", { mode: "FREEZE" })).toBe(1);
    expect(sampleValue(frozen, "edgefed_fleet_policy_mode", { mode: "LIVE" })).toBe(0);
    expect(sampleValue(frozen, "edgefed_decisions_issued_total", { type: "FREEZE", origin: "operator" })).toBe(1);
    // A mode change ends a freeze.
    const unfreeze = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE" } });
    expect(unfreeze.status).toBe(201);
    expect(sampleValue(await scrape(), "edgefed_fleet_frozen")).toBe(0);
  });

  test("alerts by kind and severity; the roles' modes", async () => {
    const before = sampleValue(await scrape(), "edgefed_alerts_total", { kind: "fleet_frozen", severity: "high" });
    t.hub.context.alerts.raise({ severity: "high", kind: "fleet_frozen", message: "a test alert", at: Date.now() });
    const exposition = await scrape();
    expect(sampleValue(exposition, "edgefed_alerts_total", { kind: "fleet_frozen", severity: "high" })).toBe(before + 1);
    expect(sampleValue(exposition, "edgefed_role_mode", { role: "supervisor", mode: "advisory" })).toBe(1);
    expect(sampleValue(exposition, "edgefed_role_conflicts_total")).toBe(0);
  });

  test("work packages are counted by state", async () => {
    const before = await scrape();
    const queued = sampleValue(before, "edgefed_work_packages", { state: "queued" });
    const cancelled = sampleValue(before, "edgefed_work_packages", { state: "cancelled" });
    const waiting = await t.api("POST", "/api/federation/work", { kind: "diagnostics", requires: ["metrics-nobody-has-this"] });
    expect(waiting.status).toBe(201);
    const dropped = await t.api("POST", "/api/federation/work", { kind: "diagnostics", requires: ["metrics-nobody-has-this"] });
    expect((await t.api("POST", `/api/federation/work/${dropped.body.id}/cancel`)).status).toBe(200);
    const after = await scrape();
    expect(sampleValue(after, "edgefed_work_packages", { state: "queued" })).toBe(queued + 1);
    expect(sampleValue(after, "edgefed_work_packages", { state: "cancelled" })).toBe(cancelled + 1);
  });

  test("HTTP requests are labelled by route pattern, never the raw path", async () => {
    await t.api("GET", "/federation/nodes/metrics-agent");
    await t.api("GET", "/federation/nodes/no-such-node-at-all");
    await t.api("GET", "/no/such/route");
    const exposition = await scrape();
    const routes = new Set(exposition.samples.filter((s) => s.name === "edgefed_http_request_duration_seconds_count").map((s) => s.labels.route));
    expect(routes).toContain("/federation/nodes/:id");
    expect(routes).toContain("unmatched");
    expect([...routes].filter((route) => route!.includes("metrics-agent") || route!.includes("no-such"))).toEqual([]);
    expect(sampleValue(exposition, "edgefed_http_request_duration_seconds_count", { method: "GET", route: "/federation/nodes/:id", status: "404" })).toBeGreaterThanOrEqual(1);
  });
});

describe("per-node gauges (EDGEFED_METRICS_PER_NODE=1), a second hub in the same process", () => {
  test("one series per node, gone with the node; the two hubs' registries do not mix", async () => {
    const small = await startTestHub({ env: { EDGEFED_METRICS_PER_NODE: "1", EDGEFED_METRICS_TOKEN: "configured-metrics-token-0123" } });
    try {
      const node = newNode("per-node-1");
      expect((await small.api("POST", "/federation/register", registerBody(node), small.enrollmentToken())).status).toBe(201);
      const exposition = await scrape(small, "configured-metrics-token-0123");
      expect(sampleValue(exposition, "edgefed_node_health", { node: "per-node-1", health: "offline" })).toBe(1);
      expect(sampleValue(exposition, "edgefed_node_health", { node: "per-node-1", health: "healthy" })).toBe(0);
      expect(sampleValue(exposition, "edgefed_registrations_total", { outcome: "accepted", reason: "new" })).toBe(1);
      expect((await small.api("DELETE", "/federation/nodes/per-node-1")).status).toBe(200);
      expect((await scrape(small, "configured-metrics-token-0123")).samples.filter((s) => s.labels.node === "per-node-1")).toEqual([]);
      // The first hub's metrics token is not this one's, and its counters are its own.
      expect((await getMetrics(small, metricsToken)).status).toBe(401);
      expect(sampleValue(await scrape(), "edgefed_registrations_total", { outcome: "accepted", reason: "new" })).toBeGreaterThan(1);
    } finally {
      await small.stop();
    }
  });
});
