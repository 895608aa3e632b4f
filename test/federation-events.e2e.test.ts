// The hub's recording of its federation inputs, end to end over real MQTT
// (embedded broker) and real HTTP: what a node sends (reports, verdict
// events, closes) and the health the hub judges come back from
// GET /api/federation/events as JSON lines in the order observed, each once,
// paged by a cursor, narrowed by time and node, gone with the node; bad
// parameters are refused by name. Beside it: who made each decision in every
// decision view, and the alerts listing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { FederationEvent } from "../protocol/federation-events.ts";
import { nodeTopic, type NodeToHubKind } from "../protocol/topics.ts";
import type { DecisionOrigin } from "../hub/decisions/decision-origin.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODE = "fed-events-1";
const OTHER = "fed-events-2";

let t: TestHub;
const clients: MqttClient[] = [];

async function registeredNode(nodeId: string): Promise<MqttClient> {
  const response = await t.api("POST", "/federation/register", registerBody(newNode(nodeId)), t.enrollmentToken());
  expect(response.status).toBe(201);
  const client = await connectNode(response.body.mqtt);
  clients.push(client);
  return client;
}

const send = (client: MqttClient, nodeId: string, kind: NodeToHubKind, message: object) =>
  client.publishAsync(nodeTopic(nodeId, kind), JSON.stringify(message), { qos: 1 });

/** GET /api/federation/events as text, with the headers that matter. */
async function exported(query = "", token = t.adminToken): Promise<{ status: number; type: string | null; next: string | null; link: string | null; text: string }> {
  const response = await t.fetch(`/api/federation/events${query}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    next: response.headers.get("x-next-cursor"),
    link: response.headers.get("link"),
    text: await response.text(),
  };
}

const events = (text: string): FederationEvent[] => text.split("\n").filter(Boolean).map((line) => FederationEvent.parse(JSON.parse(line)));
const shape = (list: FederationEvent[]) => list.map((e) => `${e.type === "tick" ? "-" : e.node}:${e.type}`);

const t0 = Date.now();
const portfolio = { total_equity: 10_000, drawdown_pct: 2.5, max_drawdown_pct: 4, realized_pnl_today: -30, unrealized_pnl: 5, num_positions: 2, total_exposure_usd: 3000, win_rate_today: 0.4, sharpe_ratio_7d: 0.9, ts: t0 };
const health = { system_status: "DEGRADED", ess_state: "CAUTION", ts: t0 };
const model = { model_name: "NHiTS", sharpe_ratio: 1.2, win_rate: 0.55, profit_factor: 1.4, total_trades: 40, days_since_training: 9.5, ts: t0 };
const verdict = {
  seq: 1,
  ts: t0,
  simulated: false,
  symbol: "BTCUSDT",
  verdict: { id: "i-1", verdict: "HOLD", reasons: ["COOLDOWN"], enforced: true, mode: "LIVE", metrics: { notional: 100, friction_usd: 0.2, required_edge_usd: 0.6, r_ratio: 2.5 } },
};
const close = { seq: 1, symbol: "BTCUSDT", ts: t0, pnl_usd: -42.5, exit: "stop_loss" };

beforeAll(async () => {
  t = await startTestHub();
  const node = await registeredNode(NODE);
  const other = await registeredNode(OTHER);
  for (const [kind, message] of [
    ["portfolio", portfolio],
    ["health", health],
    ["models", model],
    ["verdicts", verdict],
    ["closes", close],
    ["verdicts", verdict], // redelivered: recorded once
    ["closes", close],
  ] as const) {
    await send(node, NODE, kind, message);
  }
  await send(other, OTHER, "closes", { seq: 1, symbol: "ETHUSDT", ts: t0 }); // a close without its outcome
  await eventually(async () => events((await exported()).text).filter((e) => e.type === "close").length === 2, 10_000, "both nodes' closes recorded");
});

afterAll(async () => {
  for (const client of clients) await client.endAsync(true).catch(() => {});
  await t?.stop();
  removeTempDirs();
});

describe("GET /api/federation/events", () => {
  test("every input once, in the order observed, as FederationEvent lines; the hub's own health judgements too", async () => {
    const page = await exported();
    expect(page.status).toBe(200);
    expect(page.type).toBe("application/x-ndjson");
    expect(page.next).toBeNull(); // everything fits the default page
    const all = events(page.text);
    expect(shape(all.filter((e) => e.type !== "node_health"))).toEqual([
      `${NODE}:portfolio`,
      `${NODE}:health`,
      `${NODE}:model`,
      `${NODE}:verdict`,
      `${NODE}:close`,
      `${OTHER}:close`,
    ]);
    // Registered, not heard from: each node starts offline; the hub's time of observation in `at`.
    expect(all.filter((e) => e.type === "node_health" && e.node === NODE)[0]).toMatchObject({ state: "offline" });
    const ats = all.map((e) => e.at);
    expect(ats.every((at) => at >= t0)).toBe(true);
    const byType = (type: string, node = NODE) => all.find((e) => e.type === type && e.type !== "tick" && e.node === node);
    expect(byType("portfolio")).toMatchObject({ report: portfolio });
    expect(byType("health")).toMatchObject({ report: health });
    expect(byType("model")).toMatchObject({ report: model });
    expect(byType("verdict")).toMatchObject({ event: verdict });
    expect(byType("close")).toMatchObject({ close: { symbol: "BTCUSDT", ts: t0, pnl_usd: -42.5, exit: "stop_loss" } });
    expect(byType("close", OTHER)).toMatchObject({ close: { symbol: "ETHUSDT", ts: t0 } });
    // The node view counts closes as it counts verdicts.
    expect((await t.api("GET", `/federation/nodes/${NODE}`)).body.closes).toEqual({ last_seq: 1, count: 1, duplicates: 1, missing: 0 });
  });

  test("pages follow the cursor to the end and add up to the whole; time and node narrow it", async () => {
    const whole = events((await exported()).text);
    const paged: FederationEvent[] = [];
    let query = "?limit=2";
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(20);
      const page = await exported(query);
      expect(page.status).toBe(200);
      paged.push(...events(page.text));
      if (page.next === null) break;
      expect(page.link).toBe(`</api/federation/events?limit=2&cursor=${page.next}>; rel="next"`);
      query = `?limit=2&cursor=${page.next}`;
    }
    expect(paged).toEqual(whole);

    const mine = events((await exported(`?node=${NODE}`)).text);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => e.type !== "tick" && e.node === NODE)).toBe(true);
    const verdictAt = whole.find((e) => e.type === "verdict")!.at;
    const since = events((await exported(`?from=${verdictAt}`)).text);
    expect(since).toEqual(whole.filter((e) => e.at >= verdictAt));
    expect(events((await exported(`?from=${new Date(verdictAt).toISOString()}&to=${verdictAt + 1}`)).text)).toEqual(
      whole.filter((e) => e.at === verdictAt),
    );
    expect((await exported(`?to=${t0 - 1}`)).text).toBe("");
  });

  test("a bad parameter is refused with 400 naming it; an operator's token is needed", async () => {
    for (const [query, field] of [
      ["?from=yesterday", "from"],
      ["?from=2000&to=1000", "to"],
      ["?node=Not_A_Node", "node"],
      ["?limit=0", "limit"],
      ["?limit=10001", "limit"],
      ["?cursor=-3", "cursor"],
      ["?form=1000", "form"],
    ]) {
      const response = await exported(query);
      expect(response.status).toBe(400);
      expect(JSON.parse(response.text).detail).toStartWith(`${field}: `);
    }
    expect((await exported("", "not-the-admin-token")).status).toBe(401);
  });

  test("a removed node's events go with it", async () => {
    expect((await t.api("DELETE", `/federation/nodes/${OTHER}`)).status).toBe(200);
    expect((await exported(`?node=${OTHER}`)).text).toBe("");
    expect(events((await exported(`?node=${NODE}`)).text).length).toBeGreaterThan(0);
  });
});

describe("decision origin in the audit trail", () => {
  test("an operator's decision says so in every view; a role's names its role, rule, inputs and thresholds", async () => {
    const issued = await t.api("POST", "/api/federation/decisions", { type: "FREEZE", target: NODE, payload: { reason: "test" } });
    expect(issued.status).toBe(201);
    expect(issued.body.origin).toEqual({ kind: "operator", name: "admin" });
    expect((await t.api("GET", `/api/federation/decisions/${issued.body.id}`)).body.origin).toEqual({ kind: "operator", name: "admin" });
    const mode = await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: NODE });
    expect(mode.body.origin).toEqual({ kind: "operator", name: "admin" });

    const supervisor: DecisionOrigin = {
      kind: "role",
      role: "supervisor",
      rule: "fleet_drawdown",
      inputs: { fleet_drawdown_pct: 12.5 },
      thresholds: { max_fleet_drawdown_pct: 10 },
    };
    const byRole = await t.hub.decisions.issue({ type: "MODE_CHANGE", target: NODE, payload: { mode: "PAUSED" } }, supervisor);
    expect(byRole.origin).toEqual(supervisor);
    expect((await t.api("GET", `/api/federation/decisions/${byRole.decision.id}`)).body.origin).toEqual(supervisor);
    const listed = (await t.api("GET", "/api/federation/decisions?limit=3")).body.decisions;
    expect(listed.map((d: { origin: DecisionOrigin }) => d.origin)).toEqual([supervisor, { kind: "operator", name: "admin" }, { kind: "operator", name: "admin" }]);
  });
});

describe("GET /api/federation/alerts", () => {
  test("lists what was raised, newest first, from a time; bad parameters refused by name", async () => {
    const at = Date.now();
    t.hub.context.alerts.raise({ severity: "critical", kind: "fleet_frozen", message: "Supervisor froze the fleet", at });
    t.hub.context.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: "evaluation late", at: at + 1 });
    const listed = await t.api("GET", "/api/federation/alerts");
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      alerts: [
        { seq: 2, severity: "low", kind: "engine_unhealthy", message: "evaluation late", at: at + 1 },
        { seq: 1, severity: "critical", kind: "fleet_frozen", message: "Supervisor froze the fleet", at },
      ],
      dropped: 0,
    });
    expect((await t.api("GET", `/api/federation/alerts?since=${at + 1}`)).body.alerts.map((a: { seq: number }) => a.seq)).toEqual([2]);
    expect((await t.api("GET", "/api/federation/alerts?limit=1")).body.alerts).toHaveLength(1);
    expect((await t.api("GET", "/api/federation/alerts?since=soon")).body.detail).toStartWith("since: ");
    expect((await t.api("GET", "/api/federation/alerts?limit=0")).status).toBe(400);
    expect((await t.api("GET", "/api/federation/alerts", undefined, "not-the-admin-token")).status).toBe(401);
  });
});
