// The federation roles in the running hub, end to end: real agents whose
// strategies report (their local API) a drawdown rising past the
// Supervisor's fleet limit; the hub's engine freezes the fleet within one
// evaluation, every agent acknowledges, and the freeze lifts after recovery
// and the hold. In advisory mode the role issues nothing and the hub records
// what it would have issued. A bad config file is refused and the one in
// force kept. Real hub (embedded broker), real agents, real HTTP, a real file.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Agent } from "../agent/agent.ts";
import { portfolio } from "./fixtures/portfolio.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { postJson, startOnlineAgent, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODES = ["roles-e2e-a", "roles-e2e-b", "roles-e2e-c"];
const EVALUATE_EVERY_MS = 500;
const HOLD_S = 2;
const FREEZE_AT_PCT = 15;

/** The Supervisor alone, judging the latest fleet drawdown, with a short hold; every other role off. */
const config = (supervisorMode: string, extra = "") => `
engine:
  evaluate_every_s: ${EVALUATE_EVERY_MS / 1000}
  min_interval_s: 0
roles:
  supervisor:
    mode: ${supervisorMode}
    fleet_drawdown: {method: latest, lookback_s: 1, min_samples: 1, recovery_s: 1, min_hold_s: ${HOLD_S}, freeze_at_pct: ${FREEZE_AT_PCT}, lift_below_pct: 10}
${extra}  risk_officer: {mode: off}
  ess_guard: {mode: off}
  capital_allocator: {mode: off}
  strategy_allocator: {mode: off}
  researcher: {mode: off}
`;

let hub: TestHub;
let configFile: string;
const agents: Agent[] = [];
const logged: string[] = [];

beforeAll(async () => {
  configFile = join(tempDir("edgefed-federation-"), "federation.yaml");
  writeFileSync(configFile, config("active"));
  hub = await startTestHub({ env: { EDGEFED_FEDERATION_CONFIG: configFile }, log: (line) => logged.push(line) });
  for (const node of NODES) await startOnlineAgent(hub, testAgentConfig(hub, node, { apiPort: 0 }), agents);
});
afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop().catch(() => {})));
  await hub?.stop();
  removeTempDirs();
});

/** Every agent's strategy reports this drawdown. */
async function reportDrawdown(drawdown_pct: number): Promise<void> {
  for (const agent of agents) {
    expect(await postJson(agent, "/v1/portfolio", portfolio({ ts: Date.now(), drawdown_pct, max_drawdown_pct: drawdown_pct }))).toMatchObject({ status: 200 });
  }
}

const allDecisions = async () => (await hub.api("GET", "/api/federation/decisions?limit=100")).body.decisions;
const roleDecisions = async () => (await allDecisions()).filter((d: any) => d.origin.kind === "role");
const recorded = async () => (await hub.api("GET", "/api/federation/roles")).body;

/** Waits until the decision is acknowledged by every agent, each ok. */
async function acknowledgedByAll(id: string): Promise<any> {
  return eventually(async () => {
    const decision = (await allDecisions()).find((d: any) => d.id === id);
    return decision && decision.pending.length === 0 && decision.acks.every((a: any) => a.ok) ? decision : undefined;
  }, 10_000, `${id} acknowledged by every agent`);
}

test("the Supervisor freezes the fleet within one evaluation of the drawdown passing its limit, every agent acknowledges, and it lifts after recovery and the hold", async () => {
  const status = (await hub.api("GET", "/api/federation/status")).body;
  expect(status.roles).toMatchObject({ supervisor: true, risk_officer: false });
  expect(status.role_status.supervisor).toMatchObject({ mode: "active" });

  for (const drawdown of [4, 9, 14]) await reportDrawdown(drawdown);
  for (const drawdown of [16, 18]) await reportDrawdown(drawdown);

  const freeze = await eventually(async () => (await roleDecisions()).find((d: any) => d.type === "FREEZE"), 10_000, "the Supervisor's FREEZE");
  expect(freeze).toMatchObject({ target: "fleet", origin: { kind: "role", role: "supervisor", rule: "fleet_drawdown", thresholds: expect.any(Object), inputs: expect.any(Object) } });
  expect(freeze.targets.sort()).toEqual([...NODES].sort());
  await acknowledgedByAll(freeze.id);
  for (const agent of agents) expect(agent.status()).toMatchObject({ mode: "FREEZE" });

  // Within one evaluation: no later than one tick after the report that took the fleet's drawdown past the limit.
  const events = (await hub.api("GET", "/api/federation/events?limit=1000")).body as string;
  const latest = new Map<string, number>();
  let crossedAt: number | null = null;
  for (const line of events.trim().split("\n")) {
    const event = JSON.parse(line);
    if (event.type !== "portfolio") continue;
    latest.set(event.node, event.report.drawdown_pct);
    const fleet = [...latest.values()].reduce((a, b) => a + b, 0) / latest.size;
    if (crossedAt === null && latest.size === NODES.length && fleet >= FREEZE_AT_PCT) crossedAt = event.at;
  }
  const made = (await recorded()).decisions.find((d: any) => d.decision_id === freeze.id);
  expect(made).toMatchObject({ role: "supervisor", type: "FREEZE", issued: true, mode: "active" });
  expect(crossedAt).not.toBeNull();
  expect(made.at - crossedAt!).toBeLessThanOrEqual(EVALUATE_EVERY_MS);
  const alerts = (await hub.api("GET", "/api/federation/alerts")).body.alerts;
  expect(alerts).toContainEqual(expect.objectContaining({ severity: "critical", kind: "supervisor_freeze" }));
  expect(alerts).toContainEqual(expect.objectContaining({ severity: "critical", kind: "fleet_frozen", message: expect.stringMatching(/^the fleet is frozen by role supervisor \(/) }));

  await reportDrawdown(2);
  const lift = await eventually(async () => (await roleDecisions()).find((d: any) => d.type === "MODE_CHANGE"), 15_000, "the Supervisor lifting the freeze");
  expect(lift).toMatchObject({ target: "fleet", payload: { mode: "LIVE" }, origin: { role: "supervisor" } });
  // The hold counts in the engine's time (the hub's time of the inputs), which the decisions it makes carry.
  const lifted = (await recorded()).decisions.find((d: any) => d.decision_id === lift.id);
  expect(lifted.at - made.at).toBeGreaterThanOrEqual(HOLD_S * 1000);
  await acknowledgedByAll(lift.id);
  for (const agent of agents) expect(agent.status()).toMatchObject({ mode: "LIVE" });
  const unfrozen = (await hub.api("GET", "/api/federation/alerts")).body.alerts.find((a: any) => a.kind === "fleet_unfrozen");
  expect(unfrozen).toMatchObject({ severity: "medium", message: expect.stringMatching(/^the fleet is no longer frozen: MODE_CHANGE by role supervisor/) });

  const roles = (await hub.api("GET", "/api/federation/status")).body.role_status;
  expect(roles.supervisor.last_decision).toMatchObject({ type: "MODE_CHANGE", issued: true });
  expect(roles.supervisor.last_evaluation).toBeGreaterThanOrEqual(roles.supervisor.last_decision.at);
}, 60_000);

test("a role's mode is set through the admin API (400 naming the field); in advisory mode the Supervisor issues nothing and the hub records what it would have", async () => {
  expect(await hub.api("PUT", "/api/federation/roles/supervisor", { mode: "sleepy" })).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/^mode: /) } });
  expect(await hub.api("PUT", "/api/federation/roles/overlord", { mode: "off" })).toMatchObject({ status: 404 });
  expect(await hub.api("PUT", "/api/federation/roles/supervisor", { mode: "advisory" })).toMatchObject({ status: 200, body: { role: "supervisor", mode: "advisory", enabled: false } });
  expect((await hub.api("GET", "/api/federation/status")).body.roles.supervisor).toBe(false);

  const issuedBefore = (await roleDecisions()).length;
  const totalBefore = (await hub.api("GET", "/api/federation/status")).body.total_decisions;
  await reportDrawdown(25);
  const advisory = await eventually(async () => (await recorded()).decisions.find((d: any) => d.type === "FREEZE" && d.mode === "advisory"), 10_000, "the advisory FREEZE recorded");
  expect(advisory).toMatchObject({ role: "supervisor", rule: "fleet_drawdown", issued: false, target: "fleet" });
  expect(advisory.decision_id).toBeUndefined();
  expect(advisory.inputs).toBeObject();
  expect(advisory.thresholds).toBeObject();
  // Evaluations later, still nothing issued.
  await eventually(async () => (await recorded()).roles.supervisor.last_evaluation > advisory.at + EVALUATE_EVERY_MS, 10_000, "a later evaluation");
  expect((await roleDecisions()).length).toBe(issuedBefore);
  expect((await hub.api("GET", "/api/federation/status")).body.total_decisions).toBe(totalBefore);
  for (const agent of agents) expect(agent.status()).toMatchObject({ mode: "LIVE" });
}, 30_000);

test("a bad config file is refused, logged and alerted, and the one in force kept; a good one is taken up", async () => {
  const modes = () => recorded().then((body) => Object.fromEntries(Object.entries(body.roles).map(([name, role]: [string, any]) => [name, role.mode])));
  const before = await modes();
  writeFileSync(configFile, config("active", "    min_samples_typo: 3\n"));
  const refused = await eventually(
    async () => (await hub.api("GET", "/api/federation/alerts")).body.alerts.find((a: any) => a.kind === "engine_unhealthy" && a.message.includes("refused")),
    10_000,
    "the bad config refused",
  );
  expect(refused).toMatchObject({ severity: "low" });
  expect(refused.message).toContain(`${configFile}: roles.supervisor.min_samples_typo: unknown field`);
  expect(logged.some((line) => line.includes("roles.supervisor.min_samples_typo"))).toBe(true);
  expect(await modes()).toEqual(before);

  // The file changes the Supervisor's mode: the file's mode wins over the one the API set.
  writeFileSync(configFile, config("off"));
  await eventually(async () => (await modes()).supervisor === "off", 10_000, "the good config taken up");
  expect((await hub.api("GET", "/api/federation/status")).body.roles.supervisor).toBe(false);
}, 30_000);

test("an operator's OVERRIDE of the Supervisor's freeze keeps the Supervisor from freezing again for the suppression time", async () => {
  expect(await hub.api("PUT", "/api/federation/roles/supervisor", { mode: "active" })).toMatchObject({ status: 200, body: { enabled: true } });
  // Recovered first: the freeze the advisory run remembers is let go (the fleet is not frozen, so nothing is issued).
  const unchanged = (await recorded()).counters.refused.unchanged;
  await reportDrawdown(2);
  await eventually(async () => (await recorded()).counters.refused.unchanged > unchanged, 15_000, "the advisory freeze let go");

  const known = new Set((await roleDecisions()).map((d: any) => d.id));
  await reportDrawdown(30);
  const freeze = await eventually(async () => (await roleDecisions()).find((d: any) => d.type === "FREEZE" && !known.has(d.id)), 10_000, "a new FREEZE");
  const override = await hub.api("POST", "/api/federation/decisions", { type: "OVERRIDE", target: "fleet", payload: { overridden_decision_id: freeze.id, reason: "operator: false alarm" } });
  expect(override.status).toBe(201);
  await acknowledgedByAll(override.body.id);

  // The drawdown stays past the limit: the Supervisor would freeze again, but is silenced on it.
  const suppressed = (await recorded()).counters.refused.suppressed;
  await eventually(async () => (await recorded()).counters.refused.suppressed > suppressed + 2, 10_000, "the Supervisor held back on several evaluations");
  expect((await roleDecisions()).filter((d: any) => d.type === "FREEZE" && !known.has(d.id))).toHaveLength(1);
  for (const agent of agents) expect(agent.status()).not.toMatchObject({ mode: "FREEZE" });
  expect(logged.some((line) => line.includes(`will not issue FREEZE to fleet again for 3600 s (operator OVERRIDE of ${freeze.id})`))).toBe(true);
}, 60_000);

test("a hub given a bad config file does not start, and says which file and field", async () => {
  const bad = join(tempDir("edgefed-federation-"), "federation.yaml");
  writeFileSync(bad, "roles:\n  supervisor: {mode: sometimes}\n");
  await expect(startTestHub({ env: { EDGEFED_FEDERATION_CONFIG: bad } })).rejects.toThrow(`${bad}: roles.supervisor.mode: `);
});
