// OVERRIDE end to end: real agents and a real hub (embedded broker) over
// HTTP and MQTT. A decision changes the agents' verdicts; an OVERRIDE of it,
// issued through the API with the contract's payload, restores the verdicts
// they gave before, on the fleet and on a node, also on a node registered
// after the decision and on one that was off while both were issued.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Agent, AgentConfig } from "../agent/agent.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { removeTempDirs } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
const running: Agent[] = [];
beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => {
  for (const agent of running) await agent.stop().catch(() => {});
  await t.stop();
  removeTempDirs();
});

function config(nodeId: string): AgentConfig {
  // Many entries in a few seconds: the rate gate must not be what holds them.
  return testAgentConfig(t, nodeId, { gateConfig: { ...DEFAULT_CONFIG, MAX_TRADES_10MIN: 1000 } });
}

async function started(agentConfig: AgentConfig): Promise<Agent> {
  return startOnlineAgent(t, agentConfig, running);
}

async function stopped(agent: Agent): Promise<void> {
  await agent.stop();
  running.splice(running.indexOf(agent), 1);
}

let probes = 0;
/** The agent's verdict on a fresh entry (a symbol of its own, so no cooldown) that passes every gate under the default policy. */
async function probe(agent: Agent, symbol?: string, extra: Record<string, unknown> = {}): Promise<{ verdict: string; reasons: string[] }> {
  const n = ++probes;
  const [verdict] = await agent.submit([
    { id: `probe-${n}`, symbol: symbol ?? `P${n}USDT`, side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now(), ...extra },
  ]);
  return { verdict: verdict!.verdict, reasons: verdict!.reasons };
}

async function issue(type: string, target: string, payload: Record<string, unknown>): Promise<{ id: string; seq: number }> {
  const response = await t.api("POST", "/api/federation/decisions", { type, target, payload });
  expect(response.status).toBe(201);
  return response.body;
}

async function decision(id: string): Promise<any> {
  const response = await t.api("GET", `/api/federation/decisions/${id}`);
  expect(response.status).toBe(200);
  return response.body;
}

/** Waits for every node to acknowledge `id`, then returns the decision as the audit trail shows it. */
async function acknowledged(id: string, nodes: string[]): Promise<any> {
  return eventually(async () => {
    const d = await decision(id);
    return nodes.every((node) => d.acks.some((a: { node_id: string }) => a.node_id === node)) && d;
  }, 15_000, `acks of ${id} from ${nodes.join(", ")}`);
}

const policyVersion = (agent: Agent) => (agent.status() as { policy_version: number }).policy_version;
const PASS = { verdict: "PASS", reasons: [] };
const INACTIVE = { verdict: "HOLD", reasons: ["SYMBOL_NOT_ACTIVE"] };

test("a fleet OVERRIDE restores the verdicts on every node: the ones that got the decision, one registered after it, one off for both", async () => {
  const early = await started(config("ovr-early"));
  const awayConfig = config("ovr-away");
  const away = await started(awayConfig);
  expect(await probe(early)).toEqual(PASS);
  await stopped(away); // registered, so the decision is sent to it; off until after the OVERRIDE

  const universe = await issue("SYMBOL_UNIVERSE", "fleet", { active_symbols: ["BTCUSDT"], reason: "BTC only" });
  await eventually(() => policyVersion(early) === universe.seq, 10_000, "the universe in force on ovr-early");
  expect(await probe(early)).toEqual(INACTIVE);
  expect(await probe(early, "BTCUSDT")).toEqual(PASS);

  // Registered after the decision: it never receives the decision, only the retained fleet policy that folds it.
  const late = await started(config("ovr-late"));
  await eventually(() => policyVersion(late) === universe.seq, 10_000, "the retained fleet policy on ovr-late");
  expect(await probe(late)).toEqual(INACTIVE);
  expect((await decision(universe.id)).targets.sort()).toEqual(["ovr-away", "ovr-early"]);

  const override = await issue("OVERRIDE", "fleet", { reason: "BTC only was a mistake", overridden_decision_id: universe.id });
  expect(override.seq).toBeGreaterThan(universe.seq);
  await eventually(() => policyVersion(early) === override.seq && policyVersion(late) === override.seq, 10_000, "the refolded fleet policy in force");
  expect(await probe(early)).toEqual(PASS);
  expect(await probe(late)).toEqual(PASS);

  // Back on: the decision and the OVERRIDE arrive in whatever order, with the refolded policy; the verdicts are as before.
  const back = await started(awayConfig);
  await eventually(() => policyVersion(back) === override.seq, 10_000, "the refolded fleet policy on ovr-away");
  const trail = await acknowledged(override.id, ["ovr-early", "ovr-late", "ovr-away"]);
  expect(trail.acks.every((a: { ok: boolean }) => a.ok)).toBe(true);
  const reversed = await acknowledged(universe.id, ["ovr-early", "ovr-away"]);
  expect(reversed.acks.every((a: { ok: boolean }) => a.ok)).toBe(true); // acknowledged late, not applied over the newer policy
  expect(await probe(back)).toEqual(PASS);

  // Both ends of the link, in the detail and in the list.
  expect(reversed).toMatchObject({ overridden_by: override.id, overrides: null });
  expect(trail).toMatchObject({ overridden_by: null, overrides: universe.id, type: "OVERRIDE", payload: { overridden_decision_id: universe.id } });
  const listed = (await t.api("GET", "/api/federation/decisions?limit=10")).body.decisions;
  expect(listed.find((d: { id: string }) => d.id === universe.id).overridden_by).toBe(override.id);
  expect(listed.find((d: { id: string }) => d.id === override.id).overrides).toBe(universe.id);
}, 60_000);

test("a node OVERRIDE takes out only that decision: the fleet's before and after it stay; a fleet OVERRIDE reaches the node's own policy", async () => {
  const agent = await started(config("ovr-node"));
  const leveraged = { leverage: 3 };
  expect(await probe(agent, undefined, leveraged)).toEqual(PASS);

  const loose = await issue("RISK_ADJUSTMENT", "fleet", { max_leverage: 5 });
  const own = await issue("SYMBOL_UNIVERSE", "ovr-node", { active_symbols: ["BTCUSDT"] });
  const tight = await issue("RISK_ADJUSTMENT", "fleet", { max_leverage: 2 });
  await eventually(() => policyVersion(agent) === tight.seq, 10_000, "all three in force");
  expect(await probe(agent, undefined, leveraged)).toEqual({ verdict: "HOLD", reasons: expect.arrayContaining(["SYMBOL_NOT_ACTIVE", "LEVERAGE_TOO_HIGH"]) });

  const dropOwn = await issue("OVERRIDE", "ovr-node", { reason: "the node trades everything again", overridden_decision_id: own.id });
  await eventually(() => policyVersion(agent) === dropOwn.seq, 10_000, "the node's refolded policy in force");
  expect(await probe(agent, undefined, leveraged)).toEqual({ verdict: "HOLD", reasons: ["LEVERAGE_TOO_HIGH"] }); // the fleet's cap of 2 stays
  expect(await probe(agent, undefined, { leverage: 2 })).toEqual(PASS);

  // The node has a desired policy of its own now; a fleet OVERRIDE folds it again too.
  const dropTight = await issue("OVERRIDE", "fleet", { reason: "back to 5x", overridden_decision_id: tight.id });
  await eventually(() => policyVersion(agent) === dropTight.seq, 10_000, "the refolded node policy in force");
  expect(await probe(agent, undefined, leveraged)).toEqual(PASS); // the cap of 5 from before is back
  expect(await probe(agent, undefined, { leverage: 6 })).toEqual({ verdict: "HOLD", reasons: ["LEVERAGE_TOO_HIGH"] });
  expect((await t.api("GET", "/federation/nodes/ovr-node")).body.desired_policy_version).toBe(dropTight.seq);
  expect((await decision(loose.id)).overridden_by).toBeNull();
}, 60_000);
