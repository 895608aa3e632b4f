// What the dashboard reads of decisions, over real HTTP against a real hub:
// the node view's `policy_origins` (which decision last set each field of
// the policy in force, operator or role, fleet or the node's own, folded
// from the audit trail), the decision list's summary mode, and one
// decision's targets a page at a time. Acks go through the hub's own
// acknowledge(), as the MQTT ingest calls it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DecisionOrigin } from "../hub/decisions/decision-origin.ts";
import { DEFAULT_POLICY, type KernelPolicy } from "../kernel/policy.ts";
import { cleanUp } from "./helpers.ts";
import { dashboardLogin } from "./support/dashboard-client.ts";
import { newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODES = ["pi-a", "pi-b", "pi-c"];
const riskOfficer: DecisionOrigin = { kind: "role", role: "risk_officer", rule: "node_drawdown", inputs: { drawdown_pct: 0.2 }, thresholds: { max_drawdown_pct: 0.1 } };

let hub: TestHub;
beforeAll(async () => {
  hub = await startTestHub();
  for (const id of NODES) expect((await hub.api("POST", "/federation/register", registerBody(newNode(id)), hub.enrollmentToken())).status).toBe(201);
});
afterAll(async () => {
  await hub?.stop();
  await cleanUp();
});

async function issue(type: string, target: string, payload: Record<string, unknown>): Promise<{ id: string; issuedAt: number }> {
  const answer = await hub.api("POST", "/api/federation/decisions", { type, target, payload });
  expect(answer.status).toBe(201);
  return answer.body;
}

async function nodeView(id: string): Promise<any> {
  const answer = await hub.api("GET", `/federation/nodes/${id}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

const acknowledge = (nodeId: string, id: string, ok: boolean) => hub.hub.decisions.acknowledge(nodeId, { id, ok, appliedAt: Date.now(), ...(ok ? {} : { error: "LOCKED" }) }, Date.now());

describe("the policy's field origins in the node view", () => {
  test("each field of the policy in force names the decision that last set it: operator or role, fleet or the node's own", async () => {
    const fleetRisk = await issue("RISK_ADJUSTMENT", "fleet", { max_leverage: 3, max_notional_usd: 500 });
    // A role's decision, issued as the federation engine issues it.
    const ownUniverse = await hub.hub.decisions.issue({ type: "SYMBOL_UNIVERSE", target: "pi-a", payload: { active_symbols: ["BTCUSDT"] } }, riskOfficer);
    const ownLeverage = await issue("RISK_ADJUSTMENT", "pi-a", { max_leverage: 2 });
    const fleetShadow = await issue("MODE_CHANGE", "fleet", { mode: "SHADOW" });

    const a = await nodeView("pi-a");
    expect(a.desired_policy).toMatchObject({ max_leverage: 2, max_notional_usd: 500, active_symbols: ["BTCUSDT"], mode: "SHADOW" });
    expect(a.policy_origins.active_symbols).toEqual({
      decision_id: ownUniverse.decision.id,
      type: "SYMBOL_UNIVERSE",
      issued_at: ownUniverse.decision.issuedAt,
      origin: "risk_officer",
      origin_kind: "role",
      from: "node",
    });
    expect(a.policy_origins.max_leverage).toMatchObject({ decision_id: ownLeverage.id, origin: "operator", origin_kind: "operator", from: "node" });
    expect(a.policy_origins.max_notional_usd).toMatchObject({ decision_id: fleetRisk.id, type: "RISK_ADJUSTMENT", issued_at: fleetRisk.issuedAt, from: "fleet" });
    expect(a.policy_origins.mode).toMatchObject({ decision_id: fleetShadow.id, type: "MODE_CHANGE", from: "fleet" });
    // Every field the decisions moved off its default has an origin; untouched ones have none.
    for (const [field, value] of Object.entries(a.desired_policy)) {
      if (JSON.stringify(value) !== JSON.stringify(DEFAULT_POLICY[field as keyof KernelPolicy])) expect(a.policy_origins).toHaveProperty(field);
    }
    expect(a.policy_origins.enforcement).toBeUndefined();

    // pi-b follows the fleet's policy: another node's decisions are not its origins.
    const b = await nodeView("pi-b");
    expect(b.desired_policy_version).toBeNull();
    expect(b.policy_origins.max_leverage).toMatchObject({ decision_id: fleetRisk.id, from: "fleet" });
    expect(b.policy_origins.active_symbols).toBeUndefined();
  });

  test("after an OVERRIDE the origins are the decisions still in force", async () => {
    const capped = await issue("RISK_ADJUSTMENT", "fleet", { max_notional_usd: 900 });
    expect((await nodeView("pi-c")).policy_origins.max_notional_usd.decision_id).toBe(capped.id);
    await issue("OVERRIDE", "fleet", { overridden_decision_id: capped.id, reason: "too high" });
    const c = await nodeView("pi-c");
    expect(c.desired_policy.max_notional_usd).toBe(500);
    expect(c.policy_origins.max_notional_usd.decision_id).not.toBe(capped.id);
    expect(c.policy_origins.max_notional_usd.type).toBe("RISK_ADJUSTMENT");
  });
});

describe("decision summaries and paged targets", () => {
  let freeze: { id: string };
  beforeAll(async () => {
    freeze = await issue("FREEZE", "fleet", { reason: "summary test" });
    expect(await acknowledge("pi-a", freeze.id, true)).toBeNull();
    expect(await acknowledge("pi-b", freeze.id, false)).toBeNull();
  });

  test("?summary=1 counts targets and acks, shows the first pending ids, and lists no target", async () => {
    const answer = await hub.api("GET", "/api/federation/decisions?summary=1&limit=1");
    expect(answer.status).toBe(200);
    const [latest] = answer.body.decisions;
    expect(latest).toMatchObject({ id: freeze.id, type: "FREEZE", origin: { kind: "operator" }, summary: { targets: 3, acked_ok: 1, acked_error: 1, pending: 1, pending_first: ["pi-c"] } });
    expect(latest.targets).toBeUndefined();
    expect(latest.acks).toBeUndefined();
    // What the dashboard's viewer reads too, and the targets page.
    const viewer = await dashboardLogin(hub.hub.httpUrl, hub.watchToken);
    expect((await viewer.call("GET", "/api/federation/decisions?summary=1&limit=1")).body).toEqual(answer.body);
    expect((await viewer.call("GET", `/api/federation/decisions/${freeze.id}/targets`)).status).toBe(200);
    expect((await hub.api("GET", "/api/federation/decisions?summary=1&limit=1&pending_shown=0")).body.decisions[0].summary.pending_first).toEqual([]);
    // Without summary the list is as it was.
    expect((await hub.api("GET", "/api/federation/decisions?limit=1")).body.decisions[0]).toMatchObject({ targets: NODES, pending: ["pi-c"] });
  });

  test("with ?node= each summary carries that node's ack", async () => {
    const forB = (await hub.api("GET", "/api/federation/decisions?summary=1&limit=1&node=pi-b")).body.decisions[0];
    expect(forB.node_ack).toMatchObject({ node_id: "pi-b", ok: false, error: "LOCKED" });
    const forC = (await hub.api("GET", "/api/federation/decisions?summary=1&limit=1&node=pi-c")).body.decisions[0];
    expect(forC.node_ack).toBeNull();
  });

  test("a decision's targets page by state in node id order", async () => {
    const targets = (query: string) => hub.api("GET", `/api/federation/decisions/${freeze.id}/targets${query}`);
    const pending = await targets("?state=pending");
    expect(pending.status).toBe(200);
    expect(pending.body).toEqual({ decision_id: freeze.id, state: "pending", targets: [{ node_id: "pi-c", ack: null }], next_after: null });
    const acked = await targets("?state=acked");
    expect(acked.body.targets.map((t: any) => [t.node_id, t.ack.ok])).toEqual([
      ["pi-a", true],
      ["pi-b", false],
    ]);
    const first = await targets("?limit=2");
    expect(first.body.targets.map((t: any) => t.node_id)).toEqual(["pi-a", "pi-b"]);
    expect(first.body.next_after).toBe("pi-b");
    const second = await targets(`?limit=2&after=${first.body.next_after}`);
    expect(second.body).toMatchObject({ targets: [{ node_id: "pi-c", ack: null }], next_after: null });
  });

  test("?types= keeps the summaries of those types, and only with summary=1", async () => {
    const freezes = await hub.api("GET", "/api/federation/decisions?summary=1&types=FREEZE,CAPITAL_PROFILE");
    expect(freezes.body.decisions.map((d: any) => d.id)).toEqual([freeze.id]);
    const modes = await hub.api("GET", "/api/federation/decisions?summary=1&types=MODE_CHANGE");
    expect(modes.body.decisions.map((d: any) => d.type)).toEqual(["MODE_CHANGE"]);
    const unsummarised = await hub.api("GET", "/api/federation/decisions?types=FREEZE");
    expect(unsummarised.status).toBe(400);
    expect(unsummarised.body.detail).toBe("types: only with summary=1");
    expect((await hub.api("GET", "/api/federation/decisions?summary=1&types=THAW")).status).toBe(400);
  });

  test("an unknown decision is 404, a bad state or parameter 400", async () => {
    const unknown = await hub.api("GET", "/api/federation/decisions/dec_nothing/targets");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe("unknown_decision");
    const bad = await hub.api("GET", `/api/federation/decisions/${freeze.id}/targets?state=maybe`);
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toStartWith("state:");
    expect((await hub.api("GET", `/api/federation/decisions/${freeze.id}/targets?limt=5`)).status).toBe(400);
    expect((await hub.api("GET", "/api/federation/decisions?summary=perhaps")).status).toBe(400);
  });
});
