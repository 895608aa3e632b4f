// Each decision type issued through the hub's HTTP API with the federation
// contract's payload reaches a real agent (embedded broker), is acknowledged,
// and changes the agent's verdicts as its type says (issue 11). The portfolio
// is fed to the agent in-process, through its intent processor. And a node
// offline when its drawdown crosses the critical threshold freezes itself and
// says so: in its log, its status and, once back, its heartbeat.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Agent } from "../agent/agent.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import type { JournaledVerdict, PortfolioSnapshot } from "../kernel/types.ts";
import { portfolio } from "./fixtures/portfolio.ts";
import { freePort, removeTempDirs } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
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

async function onlineAgent(nodeId: string, hub = t, log: (line: string) => void = () => {}): Promise<Agent> {
  const config = testAgentConfig(hub, nodeId, {
    // No cooldown or rate limit: every entry here is judged by the decision under test alone.
    gateConfig: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: 0, MAX_TRADES_10MIN: 1000 },
    reconnectMaxS: 1,
    log,
  });
  return startOnlineAgent(hub, config, agents);
}

/** Issues a decision to one node and waits for its ack at the hub; returns the decision and the ack. */
async function decide(nodeId: string, type: string, payload: Record<string, unknown>, hub = t): Promise<{ issuedAt: number; ack: { ok: boolean; error: string | null } }> {
  const issued = await hub.api("POST", "/api/federation/decisions", { type, target: nodeId, payload });
  expect([issued.status, issued.body]).toEqual([201, expect.objectContaining({ type, payload })]);
  const decision = await eventually(async () => {
    const r = await hub.api("GET", `/api/federation/decisions?node=${nodeId}`);
    return r.body.decisions.find((d: { id: string; acks: unknown[] }) => d.id === issued.body.id && d.acks.length === 1);
  }, 10_000, `the ack of ${type}`);
  return { issuedAt: issued.body.issuedAt, ack: decision.acks[0] };
}

let counter = 0;
/** A BUY of 1 at 100 (stop 90: 10 USD at risk, R 3) that passes every economic gate. */
function entry(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: `e2e-${++counter}`, symbol: "BTCUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now(), ...fields };
}
const exit = (fields: Record<string, unknown> = {}) => ({ id: `x-${++counter}`, symbol: "BTCUSDT", side: "SELL", qty: 1, price: 100, reduce_only: true, ts: Date.now(), ...fields });

async function judge(agent: Agent, ...intents: Record<string, unknown>[]): Promise<{ verdict: string; reasons: string[] }[]> {
  return (await agent.submit(intents)).map(({ verdict, reasons }: JournaledVerdict) => ({ verdict, reasons }));
}
const PASS = { verdict: "PASS", reasons: [] };
const hold = (...reasons: string[]) => ({ verdict: "HOLD", reasons });

function feed(agent: Agent, fields: Partial<PortfolioSnapshot> = {}): void {
  agent.processor.recordPortfolio(portfolio({ ts: Date.now(), ...fields }));
}

describe("each decision type through the hub's HTTP API, with the contract's payload", () => {
  test("MODE_CHANGE {mode, duration_minutes}: PAUSED for that long, then LIVE again (judged by intent time)", async () => {
    const agent = await onlineAgent("dt-mode");
    const { issuedAt, ack } = await decide("dt-mode", "MODE_CHANGE", { mode: "PAUSED", duration_minutes: 0.5, reason: "maintenance" });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry({ ts: issuedAt + 1 }), entry({ ts: issuedAt + 29_999 }), entry({ ts: issuedAt + 30_000 }))).toEqual([
      hold("MODE_PAUSED"),
      hold("MODE_PAUSED"),
      PASS,
    ]);
  });

  test("FREEZE {duration_minutes, reason, severity}: frozen, severity in the node's status and the hub's policy", async () => {
    const agent = await onlineAgent("dt-freeze");
    const { issuedAt, ack } = await decide("dt-freeze", "FREEZE", { duration_minutes: 0.5, reason: "exchange incident", severity: "HIGH" });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry({ ts: issuedAt + 1 }), exit({ ts: issuedAt + 2 }), entry({ ts: issuedAt + 30_000 }))).toEqual([hold("FROZEN"), PASS, PASS]);
    expect(agent.status()).toMatchObject({ freeze: { until: issuedAt + 30_000, severity: "HIGH", reason: "exchange incident" } });
    const node = (await t.api("GET", "/federation/nodes/dt-freeze")).body;
    expect(node.desired_policy.freeze).toEqual({ until: issuedAt + 30_000, severity: "HIGH", reason: "exchange incident" });
  });

  test("CAPITAL_PROFILE {profile, max_risk_per_trade_pct, max_daily_risk_pct, max_positions}: MAX_POSITIONS, RISK_PER_TRADE, DAILY_RISK", async () => {
    const agent = await onlineAgent("dt-capital");
    feed(agent, { num_positions: 2 });
    expect(await judge(agent, entry({ qty: 10, expected_move_usd: 50 }))).toEqual([PASS]);
    feed(agent, { num_positions: 2 });
    const { ack } = await decide("dt-capital", "CAPITAL_PROFILE", { profile: "SMALL", max_risk_per_trade_pct: 0.5, max_daily_risk_pct: 2, max_positions: 3 });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry({ qty: 5.1, expected_move_usd: 50 }))).toEqual([hold("RISK_PER_TRADE")]); // 51 > 0.5% of 10,000
    expect(await judge(agent, entry({ qty: 5, expected_move_usd: 50 }))).toEqual([PASS]); // the 3rd position
    expect(await judge(agent, entry())).toEqual([hold("MAX_POSITIONS")]); // a 4th
    feed(agent, { num_positions: 0, realized_pnl_today: -195 });
    expect(await judge(agent, entry())).toEqual([hold("DAILY_RISK")]); // 195 + 10 > 200
    expect(agent.status()).toMatchObject({ positions: { open: 0 }, risk_limits: { max_positions: 3, max_risk_per_trade_pct: 0.5, max_daily_risk_pct: 2 } });
  });

  test("RISK_ADJUSTMENT {max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier}", async () => {
    const agent = await onlineAgent("dt-risk");
    feed(agent, { drawdown_pct: 12 });
    expect(await judge(agent, entry({ leverage: 3 }))).toEqual([PASS]);
    const { ack } = await decide("dt-risk", "RISK_ADJUSTMENT", { max_leverage: 2, max_position_size_usd: 500, max_drawdown_pct: 10, max_exposure_pct: 50, stop_loss_multiplier: 1.5 });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry({ leverage: 3, qty: 6, expected_move_usd: 50 }))).toEqual([hold("DRAWDOWN_LIMIT", "LEVERAGE_TOO_HIGH", "NOTIONAL_TOO_LARGE", "R_TOO_LOW")]);
    feed(agent, { drawdown_pct: 10, total_exposure_usd: 4950 });
    expect(await judge(agent, entry({ tp: 145 }), entry({ tp: 145, qty: 0.5 }))).toEqual([hold("MAX_EXPOSURE"), PASS]); // 5,050 > 5,000; then 5,000
  });

  test("ESS_POLICY {caution, warning, critical thresholds}: CAUTION halves, WARNING exits only, CRITICAL until recovered", async () => {
    const agent = await onlineAgent("dt-ess");
    const { ack } = await decide("dt-ess", "ESS_POLICY", { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15, enforcement: "enforce" });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry())).toEqual([hold("NO_PORTFOLIO")]);
    await decide("dt-ess", "RISK_ADJUSTMENT", { max_position_size_usd: 150 });
    feed(agent, { drawdown_pct: 6 });
    expect(await judge(agent, entry(), entry({ qty: 0.75 }))).toEqual([hold("ESS_CAUTION"), PASS]); // half of 150
    feed(agent, { drawdown_pct: 11 });
    expect(await judge(agent, entry({ qty: 0.5 }), exit())).toEqual([hold("ESS_WARNING"), PASS]);
    feed(agent, { drawdown_pct: 16 });
    feed(agent, { drawdown_pct: 7 });
    expect(await judge(agent, entry({ qty: 0.5 }))).toEqual([hold("ESS_CRITICAL")]);
    expect(agent.status()).toMatchObject({ ess_state: "CRITICAL" });
    feed(agent, { drawdown_pct: 5 });
    expect(await judge(agent, entry({ qty: 0.5 }))).toEqual([PASS]);
  });

  test("STRATEGY_ALLOCATION {model_weights}: weight x the cap, 0 disables", async () => {
    const agent = await onlineAgent("dt-alloc");
    await decide("dt-alloc", "RISK_ADJUSTMENT", { max_position_size_usd: 1000 });
    const { ack } = await decide("dt-alloc", "STRATEGY_ALLOCATION", { model_weights: { NHiTS: 0.1, PatchTST: 0 } });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry(), entry({ qty: 1.5 }), entry({ model: "PatchTST" }))).toEqual([PASS, hold("NOTIONAL_TOO_LARGE"), hold("MODEL_DISABLED")]);
  });

  test("STRATEGY_ALLOCATION naming a model outside the node's allow tables: 400 at the hub, and the node keeps the weights it had", async () => {
    const agent = await onlineAgent("dt-alloc-unknown");
    const xgboost = () => entry({ model: "XGBoost", regime: "RANGE" });
    expect((await decide("dt-alloc-unknown", "STRATEGY_ALLOCATION", { model_weights: { XGBoost: 0 } })).ack).toMatchObject({ ok: true });
    expect(await judge(agent, xgboost())).toEqual([hold("MODEL_DISABLED")]);

    const refused = await t.api("POST", "/api/federation/decisions", { type: "STRATEGY_ALLOCATION", target: "dt-alloc-unknown", payload: { model_weights: { Nope: 0.5 } } });
    expect([refused.status, refused.body]).toEqual([
      400,
      { error: "invalid_decision", detail: "model_weights.Nope: not in the allow tables (ALLOWED_MODELS_*) of node dt-alloc-unknown" },
    ]);
    // A decision issued after it reaches the node after anything the refused one could have sent, with the desired policy that folds it.
    expect((await decide("dt-alloc-unknown", "SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] })).ack).toMatchObject({ ok: true });
    const node = (await t.api("GET", "/federation/nodes/dt-alloc-unknown")).body;
    expect(node.desired_policy.model_weights).toEqual({ XGBoost: 0 });
    await eventually(() => agent.store.policy().version === node.desired_policy_version, 10_000, "the node on the hub's desired policy");
    expect(agent.store.policy().policy).toEqual(node.desired_policy);
    expect(await judge(agent, xgboost())).toEqual([hold("MODEL_DISABLED")]);
  });

  test("SYMBOL_UNIVERSE {active_symbols}: other symbols hold", async () => {
    const agent = await onlineAgent("dt-symbols");
    const { ack } = await decide("dt-symbols", "SYMBOL_UNIVERSE", { active_symbols: ["ETHUSDT"], reason: "BTC delisted here" });
    expect(ack).toMatchObject({ ok: true });
    expect(await judge(agent, entry(), entry({ symbol: "ETHUSDT" }))).toEqual([hold("SYMBOL_NOT_ACTIVE"), PASS]);
  });

  test("CASHFLOW {profit_lock_pct, reinvest_pct, reserve_buffer_pct}: locked profit and reserve leave less equity to risk", async () => {
    const agent = await onlineAgent("dt-cashflow");
    await decide("dt-cashflow", "CAPITAL_PROFILE", { profile: "MEDIUM", max_risk_per_trade_pct: 1 });
    feed(agent);
    expect(await judge(agent, entry({ qty: 8, expected_move_usd: 50 }))).toEqual([PASS]); // 80 <= 1% of 10,000
    const { issuedAt, ack } = await decide("dt-cashflow", "CASHFLOW", { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 30 });
    expect(ack).toMatchObject({ ok: true });
    agent.recordCloses([{ type: "close", symbol: "SOLUSDT", ts: Math.max(issuedAt, Date.now() - 1000), pnl_usd: 2000, exit: "take_profit" }]);
    feed(agent, { total_equity: 12_000 });
    // 12,000 - 1,000 locked - 3,600 reserve = 7,400: 1% is 74.
    expect(agent.status()).toMatchObject({ capital: { equity: 12_000, locked_profit: 1000, reserve: 3600, tradable_equity: 7400 } });
    expect(await judge(agent, entry({ qty: 8, expected_move_usd: 50 }), entry({ qty: 7.4, expected_move_usd: 50 }))).toEqual([hold("RISK_PER_TRADE"), PASS]);
  });
});

test("a fleet STRATEGY_ALLOCATION: 400 if no node allows a name; one only some allow reaches all, each node on the hub's desired policy", async () => {
  const hub = await startTestHub(); // its own: a fleet decision reaches every node of its hub
  const logs: string[] = [];
  const everyModel = await onlineAgent("fa-every", hub);
  const noLightGbm = testAgentConfig(hub, "fa-no-lightgbm", { gateConfig: { ...DEFAULT_CONFIG, ALLOWED_MODELS_RANGE: ["XGBoost"] }, log: (line) => logs.push(line) });
  const without = await startOnlineAgent(hub, noLightGbm, agents);
  try {
    const refused = await hub.api("POST", "/api/federation/decisions", { type: "STRATEGY_ALLOCATION", target: "fleet", payload: { model_weights: { Nope: 0.5 } } });
    expect([refused.status, refused.body]).toEqual([
      400,
      { error: "invalid_decision", detail: "model_weights.Nope: not in the allow tables (ALLOWED_MODELS_*) of any node of the fleet" },
    ]);

    const issued = await hub.api("POST", "/api/federation/decisions", { type: "STRATEGY_ALLOCATION", target: "fleet", payload: { model_weights: { LightGBM: 0 } } });
    expect(issued.status).toBe(201);
    const acks = await eventually(async () => {
      const { decisions } = (await hub.api("GET", "/api/federation/decisions?limit=1")).body;
      return decisions[0]?.id === issued.body.id && decisions[0].acks.length === 2 && decisions[0].acks;
    }, 10_000, "both acks");
    expect(acks.map((ack: { ok: boolean; error: string | null }) => [ack.ok, ack.error])).toEqual([[true, null], [true, null]]);
    expect(logs).toContainEqual(`${issued.body.id} STRATEGY_ALLOCATION weighs ["LightGBM"], in none of this node's allow tables: no effect here`);
    for (const agent of [everyModel, without]) {
      const node = (await hub.api("GET", `/federation/nodes/${agent.identity.nodeId}`)).body;
      expect(node.desired_policy.model_weights).toEqual({ LightGBM: 0 });
      await eventually(() => agent.store.policy().version === issued.body.seq, 10_000, "the node on the fleet's desired policy");
      expect(agent.store.policy().policy).toEqual(node.desired_policy);
    }
    const lightGbm = () => entry({ model: "LightGBM", regime: "RANGE" });
    expect(await judge(everyModel, lightGbm())).toEqual([hold("MODEL_DISABLED")]);
    expect(await judge(without, lightGbm())).toEqual([hold("INVALID_INPUT:model")]); // as before the weight
  } finally {
    for (const agent of [everyModel, without]) {
      await agent.stop();
      agents.splice(agents.indexOf(agent), 1);
    }
    await hub.stop();
  }
}, 60_000);

test("a node offline when its drawdown crosses critical_threshold_pct freezes itself, and says so: log, status, and its heartbeat once back", async () => {
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const ports = { EDGEFED_HTTP_PORT: String(httpPort), EDGEFED_MQTT_PORT: String(mqttPort) };
  let hub = await startTestHub({ env: ports });
  const dataDir = hub.dataDir;
  const logs: string[] = [];
  const agent = await onlineAgent("dt-offline", hub, (line) => logs.push(line));
  try {
    expect((await decide("dt-offline", "ESS_POLICY", { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 }, hub)).ack).toMatchObject({ ok: true });
    feed(agent, { drawdown_pct: 3 });
    expect(await judge(agent, entry())).toEqual([PASS]);
    await eventually(async () => (await hub.api("GET", "/federation/nodes/dt-offline")).body.heartbeat?.ess_state === "NOMINAL", 10_000, "a NOMINAL heartbeat");

    await hub.stop();
    await eventually(() => !agent.online, 5000, "agent offline");
    feed(agent, { drawdown_pct: 15.5 });
    expect(logs.some((line) => line.startsWith("ESS state NOMINAL -> CRITICAL at a portfolio snapshot, drawdown 15.5%"))).toBe(true);
    expect(agent.status()).toMatchObject({ connectivity: "simulation", ess_state: "CRITICAL" });
    expect(await judge(agent, entry(), exit())).toEqual([hold("ESS_CRITICAL"), PASS]);

    hub = await startTestHub({ env: ports, dataDir });
    const node = await eventually(async () => {
      const view = (await hub.api("GET", "/federation/nodes/dt-offline")).body;
      return view.heartbeat?.ess_state === "CRITICAL" && view;
    }, 15_000, "the node's heartbeat saying CRITICAL");
    expect(node.heartbeat).toMatchObject({ connectivity: "online", ess_state: "CRITICAL" });
    // The held entry reached the hub with its reason, among the verdicts queued while offline.
    await eventually(async () => ((await hub.api("GET", "/federation/nodes/dt-offline")).body.verdicts.by_reason.ESS_CRITICAL ?? 0) === 1, 10_000, "the ESS_CRITICAL verdict at the hub");
  } finally {
    await agent.stop();
    agents.splice(agents.indexOf(agent), 1);
    await hub.stop();
  }
}, 60_000);
