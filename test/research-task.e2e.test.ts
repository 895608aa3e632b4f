// RESEARCH_TASK end to end: real agents and a real hub (embedded broker).
// Issued through the API with the contract's payload, a task reaches every
// target: a node with the `research` capability that runs work packages gets
// it as a package of kind `research`, whose outcome comes back as its ack
// (with the result) into the audit trail; a node that does not run work (an
// agent from before work packages) gets the decision and runs it as before;
// a node without the capability, or without a handler for the type, refuses it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Agent } from "../agent/agent.ts";
import { configHash, DEFAULT_CONFIG } from "../kernel/config.ts";
import { removeTempDirs } from "./helpers.ts";
import { startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
const agents: Agent[] = [];
beforeAll(async () => {
  t = await startTestHub({ env: { EDGEFED_DEGRADED_LOAD: "1000" } }); // research packages go only to healthy nodes, whatever this machine's load;
});
afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  removeTempDirs();
});

async function started(nodeId: string, capabilities: string[]): Promise<Agent> {
  return startOnlineAgent(t, testAgentConfig(t, nodeId, { capabilities }), agents);
}

/** The acks of decision `id` by node, once every one of `nodes` has acknowledged it. */
async function acks(id: string, nodes: string[]): Promise<Record<string, { ok: boolean; error: string | null; result: Record<string, unknown> | null }>> {
  const listed = await eventually(async () => {
    const d = (await t.api("GET", "/api/federation/decisions?limit=20")).body.decisions.find((x: { id: string }) => x.id === id);
    return d && nodes.every((node) => d.acks.some((a: { node_id: string }) => a.node_id === node)) && d;
  }, 15_000, `acks of ${id}`);
  return Object.fromEntries(listed.acks.map((a: { node_id: string }) => [a.node_id, a]));
}

test("a research node runs journal_stats and config_hash and sends the result with the ack; other nodes refuse, saying why", async () => {
  const researcher = await started("rt-research", ["kernel", "research"]);
  await started("rt-plain", ["kernel"]);
  const entry = { side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND" };
  const verdicts = await researcher.submit([
    { ...entry, id: "rt-1", symbol: "BTCUSDT", ts: Date.now() },
    { ...entry, id: "rt-2", symbol: "BTCUSDT", ts: Date.now() + 1 }, // COOLDOWN
    { ...entry, id: "rt-3", symbol: "ETHUSDT", qty: -1, ts: Date.now() + 2 }, // INVALID_INPUT:qty
  ]);
  expect(verdicts.map((v) => v.reasons[0] ?? "PASS")).toEqual(["PASS", "COOLDOWN", "INVALID_INPUT:qty"]);

  const stats = await t.api("POST", "/api/federation/decisions", {
    type: "RESEARCH_TASK",
    target: "fleet",
    payload: { task_type: "journal_stats", description: "how often entries are held", expected_impact: "tune cooldown", params: { window_minutes: 60 } },
  });
  expect(stats.status).toBe(201);
  const statsAcks = await acks(stats.body.id, ["rt-research", "rt-plain"]);
  expect(statsAcks["rt-research"]).toMatchObject({
    ok: true,
    error: null,
    result: { window_minutes: 60, total: 3, by_verdict: { PASS: 1, HOLD: 2 }, by_reason: { COOLDOWN: 1, "INVALID_INPUT:qty": 1 } },
  });
  expect(statsAcks["rt-plain"]).toEqual(expect.objectContaining({ ok: false, error: 'this node does not run research tasks (no "research" capability)', result: null }));

  const hash = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-research", payload: { task_type: "config_hash", description: "config drift" } });
  expect((await acks(hash.body.id, ["rt-research"]))["rt-research"]).toMatchObject({
    ok: true,
    result: { kernel_config_hash: configHash(DEFAULT_CONFIG), effective_config_hash: configHash(DEFAULT_CONFIG), policy_version: expect.any(Number) },
  });

  const unknown = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-research", payload: { task_type: "backtest", description: "five years" } });
  expect((await acks(unknown.body.id, ["rt-research"]))["rt-research"]).toMatchObject({
    ok: false,
    error: "research: no handler for task_type backtest on this node (handlers: echo, journal_stats, config_hash)",
    result: null,
  });

  // The research node's tasks went as work packages, one per decision, keyed by the decision's id; the plain node's did not.
  const research = (await t.api("GET", "/api/federation/work?kind=research")).body.packages;
  expect(research.map((p: { idempotency_key: string; target: string; state: string }) => [p.idempotency_key, p.target, p.state]).reverse()).toEqual([
    [stats.body.id, "rt-research", "succeeded"],
    [hash.body.id, "rt-research", "succeeded"],
    [unknown.body.id, "rt-research", "failed"],
  ]);
}, 30_000);

test("a research node that runs no work packages (an agent from before them) gets the decision and runs it as before", async () => {
  await startOnlineAgent(t, testAgentConfig(t, "rt-older", { capabilities: ["kernel", "research"], workSlots: 0 }), agents);
  const echo = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-older", payload: { task_type: "echo", description: "the old way" } });
  expect(echo.status).toBe(201);
  expect((await acks(echo.body.id, ["rt-older"]))["rt-older"]).toMatchObject({ ok: true, result: { task_type: "echo", description: "the old way" } });
  expect((await t.api("GET", "/api/federation/work?node=rt-older")).body.packages).toEqual([]);
  expect((await t.api("GET", "/api/federation/work?kind=research")).body.packages.some((p: { idempotency_key: string }) => p.idempotency_key === echo.body.id)).toBe(false);
}, 30_000);

test("a research package that expires before its node runs it closes the node's ack with why; it is not sent again as a decision", async () => {
  const away = await startOnlineAgent(t, testAgentConfig(t, "rt-away", { capabilities: ["kernel", "research"] }), agents);
  await away.stop();
  await eventually(async () => (await t.api("GET", "/federation/nodes/rt-away")).body.health?.state === "offline", 10_000, "rt-away offline");
  const task = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-away", payload: { task_type: "echo", description: "too late" }, expires_in_s: 1 });
  expect(task.status).toBe(201);
  const ack = (await acks(task.body.id, ["rt-away"]))["rt-away"];
  expect(ack).toMatchObject({ ok: false, result: null });
  expect(ack!.error).toMatch(/^work package wp_\S+ expired: deadline passed$/);
}, 30_000);

test("an operator cancelling a research package closes its node's ack with the cancellation", async () => {
  const task = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-away", payload: { task_type: "echo", description: "never mind" } });
  const pkg = (await t.api("GET", "/api/federation/work?kind=research")).body.packages.find((p: { idempotency_key: string }) => p.idempotency_key === task.body.id);
  expect(pkg).toMatchObject({ state: "queued", target: "rt-away" }); // rt-away is offline
  expect((await t.api("POST", `/api/federation/work/${pkg.id}/cancel`)).status).toBe(200);
  const decision = (await t.api("GET", "/api/federation/decisions?limit=50")).body.decisions.find((d: { id: string }) => d.id === task.body.id);
  expect(decision).toMatchObject({ pending: [], acks: [expect.objectContaining({ node_id: "rt-away", ok: false, error: `work package ${pkg.id} cancelled: cancelled by an operator`, result: null })] });
}, 30_000);

test("a node away when its task was issued runs it once, as a package, when it comes back: it is not sent the decision too", async () => {
  const config = testAgentConfig(t, "rt-back", { capabilities: ["kernel", "research"] });
  const first = await startOnlineAgent(t, config, agents);
  await first.stop();
  await eventually(async () => (await t.api("GET", "/federation/nodes/rt-back")).body.health?.state === "offline", 10_000, "rt-back offline");
  const task = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "rt-back", payload: { task_type: "echo", description: "when back" } });
  const back = await Agent.start(config);
  agents.push(back);
  expect((await acks(task.body.id, ["rt-back"]))["rt-back"]).toMatchObject({ ok: true, result: { description: "when back" } });
  // A decision after it on the same cmd topic: once it is applied, a redelivered task would have been too.
  const fence = await t.api("POST", "/api/federation/decisions", { type: "SYMBOL_UNIVERSE", target: "rt-back", payload: { active_symbols: null } });
  expect((await acks(fence.body.id, ["rt-back"]))["rt-back"]).toMatchObject({ ok: true });
  expect(back.store.appliedDecision(task.body.id)).toBeUndefined();
}, 30_000);

test("a task payload that is not the contract's is refused with 400 naming the field, and sent nowhere", async () => {
  const before = (await t.api("GET", "/api/federation/status")).body.total_decisions;
  const cases: [Record<string, unknown>, string][] = [
    [{ description: "no type" }, "task_type"],
    [{ task_type: "rm -rf /", description: "a command" }, "task_type"],
    [{ task_type: "echo" }, "description"],
    [{ task_type: "echo", description: "x".repeat(2001) }, "description"],
    [{ task_type: "echo", description: "d", command: "sh" }, "command"],
  ];
  for (const [payload, field] of cases) {
    const response = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: "fleet", payload });
    expect(response.status).toBe(400);
    expect(response.body.detail).toStartWith(`${field}: `);
  }
  expect((await t.api("GET", "/api/federation/status")).body.total_decisions).toBe(before);
});
