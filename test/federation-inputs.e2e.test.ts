// The whole path of a federation input, as a strategy process on the Pi uses
// it: the hub sets the ESS thresholds by decision, the strategy posts its
// portfolio to the agent's local API, and the kernel judges the next entry
// by it (ESS CRITICAL holds entries, exits pass; a recovered drawdown lets
// entries through again), while the hub sees the same snapshot in the node's
// view. Real hub (embedded broker), real agent, real HTTP.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Agent } from "../agent/agent.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { portfolio } from "./fixtures/portfolio.ts";
import { removeTempDirs } from "./helpers.ts";
import { postJson, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODE = "inputs-e2e";
let hub: TestHub;
let agent: Agent;

beforeAll(async () => {
  hub = await startTestHub();
  agent = await Agent.start(
    testAgentConfig(hub, NODE, {
      // No cooldown or rate limit: each entry is judged by the ESS state alone.
      gateConfig: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: 0, MAX_TRADES_10MIN: 1000 },
      apiPort: 0,
    }),
  );
  await eventually(() => agent.online, 10_000, "the agent online");
});
afterAll(async () => {
  await agent?.stop().catch(() => {});
  await hub?.stop();
  removeTempDirs();
});

const post = (path: string, body: unknown) => postJson(agent, path, body);

let counter = 0;
/** A BUY of 1 at 100 that passes every economic gate. */
const entry = () => ({ id: `in-${++counter}`, symbol: "ETHUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now() });
const exit = () => ({ id: `out-${++counter}`, symbol: "ETHUSDT", side: "SELL", qty: 1, price: 100, reduce_only: true, ts: Date.now() });

test("a portfolio posted to the local API drives the ESS thresholds the hub decided, and reaches the hub", async () => {
  const issued = await hub.api("POST", "/api/federation/decisions", {
    type: "ESS_POLICY",
    target: NODE,
    payload: { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15, reason: "test" },
  });
  expect(issued.status).toBe(201);
  await eventually(async () => {
    const decisions = (await hub.api("GET", `/api/federation/decisions?node=${NODE}`)).body.decisions;
    return decisions.find((d: { id: string; acks: { ok: boolean }[] }) => d.id === issued.body.id && d.acks[0]?.ok);
  }, 10_000, "the ESS_POLICY acknowledged");

  const deep = portfolio({ ts: Date.now(), drawdown_pct: 20, max_drawdown_pct: 20 });
  expect(await post("/v1/portfolio", deep)).toEqual({ status: 200, body: { recorded: 1, duplicates: 0 } });
  const [held, exited] = (await post("/v1/intents", [entry(), exit()])).body;
  expect(held).toMatchObject({ verdict: "HOLD", reasons: ["ESS_CRITICAL"] });
  expect(exited).toMatchObject({ verdict: "PASS", reasons: [] }); // exits are never trapped
  expect(agent.status()).toMatchObject({ ess_state: "CRITICAL" });

  // The hub holds the same snapshot the kernel judged by.
  await eventually(async () => (await hub.api("GET", `/federation/nodes/${NODE}`)).body.reports?.portfolio?.report.drawdown_pct === 20, 10_000, "the snapshot at the hub");

  // Hysteresis: CRITICAL stays until the drawdown is back at or below the caution threshold.
  expect((await post("/v1/portfolio", portfolio({ ts: Date.now() + 1, drawdown_pct: 8, max_drawdown_pct: 20 }))).status).toBe(200);
  expect((await post("/v1/intents", entry())).body).toMatchObject({ verdict: "HOLD", reasons: ["ESS_CRITICAL"] });
  expect((await post("/v1/portfolio", portfolio({ ts: Date.now() + 2, drawdown_pct: 5, max_drawdown_pct: 20 }))).status).toBe(200);
  expect((await post("/v1/intents", entry())).body).toMatchObject({ verdict: "PASS", reasons: [] });
  expect(agent.status()).toMatchObject({ ess_state: "NOMINAL" });
});

test("a portfolio the kernel cannot use is refused with 400 naming the field, and changes nothing", async () => {
  const bad = await post("/v1/portfolio", { ...portfolio({ ts: Date.now() }), total_equity: -1 });
  expect(bad.status).toBe(400);
  expect(bad.body.detail).toContain("total_equity");
  expect(agent.status()).toMatchObject({ ess_state: "NOMINAL" });
});
