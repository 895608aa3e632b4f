// A hub restarted in the middle of a Supervisor freeze goes on where it
// stopped: the engine is rebuilt from the registry (the recorded events and
// what it kept of its roles) and issues nothing while it is; the freeze
// stays in force, is not issued again while the drawdown stays past the
// limit, and lifts after recovery and the hold; the role decision records
// (issued and advisory) and a mode set through the admin API survive the
// restart, and a config file that changed that mode while the hub was down
// wins. Real hub (embedded broker) and registry file, simulated nodes over
// real MQTT, real HTTP.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { modeAt } from "../kernel/policy.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { portfolio } from "./fixtures/portfolio.ts";
import { removeTempDirs, tempDir } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

const NODES = ["restart-a", "restart-b", "restart-c"];
const EVALUATE_EVERY_MS = 500;
const HOLD_S = 4;

/** The Supervisor active on the latest fleet drawdown (never on unhealthy nodes: they go offline with the hub); the Researcher's and Risk officer's modes from the test. */
const config = (researcherMode = "advisory") => `
engine:
  evaluate_every_s: ${EVALUATE_EVERY_MS / 1000}
  min_interval_s: 0
roles:
  supervisor:
    mode: active
    fleet_drawdown: {method: latest, lookback_s: 1, min_samples: 1, recovery_s: 1, min_hold_s: ${HOLD_S}, freeze_at_pct: 15, lift_below_pct: 10}
    unhealthy_share: {min_nodes: 1000}
  risk_officer:
    mode: off
    drawdown: {method: latest, lookback_s: 1, min_samples: 1}
  researcher: {mode: ${researcherMode}}
  ess_guard: {mode: off}
  capital_allocator: {mode: off}
  strategy_allocator: {mode: off}
`;

let dataDir: string;
let configFile: string;
let hub: TestHub;
const logged: string[] = [];
const credentials = new Map<string, { url: string; username: string; password: string; client_id: string }>();
let clients: MqttClient[] = [];
let reportTs = Date.now();

const startHub = () => startTestHub({ dataDir, env: { EDGEFED_FEDERATION_CONFIG: configFile }, log: (line) => logged.push(line) });

/** Each node connects to the hub running now, as an agent does again after the hub restarted. */
async function connectNodes(): Promise<void> {
  clients = await Promise.all(NODES.map((node) => connectNode({ ...credentials.get(node)!, url: hub.hub.mqttUrl })));
}

async function stopHub(): Promise<void> {
  await Promise.all(clients.map((client) => client.endAsync()));
  await hub.stop();
}

/** Every node's strategy reports this drawdown. */
async function reportDrawdown(drawdown_pct: number): Promise<void> {
  reportTs++;
  await Promise.all(
    NODES.map((node, i) => clients[i]!.publishAsync(nodeTopic(node, "portfolio"), JSON.stringify(portfolio({ ts: reportTs, drawdown_pct, max_drawdown_pct: drawdown_pct })), { qos: 1 })),
  );
}

const roleDecisions = async () => (await hub.api("GET", "/api/federation/decisions?limit=100")).body.decisions.filter((d: any) => d.origin.kind === "role");
const recorded = async () => (await hub.api("GET", "/api/federation/roles?limit=100")).body;
const fleetMode = () => modeAt(hub.hub.decisions.policyInForce("fleet"), Date.now());

/** Waits for `evaluations` more evaluations of the Supervisor after now (its last_evaluation is engine time: the hub's clock). */
async function supervisorEvaluates(evaluations: number): Promise<void> {
  const after = Date.now() + evaluations * EVALUATE_EVERY_MS;
  await eventually(async () => (await recorded()).roles.supervisor.last_evaluation >= after, 10_000, `${evaluations} evaluations of the Supervisor`);
}

beforeAll(async () => {
  dataDir = tempDir("edgefed-hub-");
  configFile = join(tempDir("edgefed-federation-"), "federation.yaml");
  writeFileSync(configFile, config());
  hub = await startHub();
  for (const node of NODES) {
    const response = await hub.api("POST", "/federation/register", registerBody(newNode(node)), hub.enrollmentToken());
    expect(response.status).toBe(201);
    credentials.set(node, response.body.mqtt);
  }
  await connectNodes();
});
afterAll(async () => {
  await stopHub().catch(() => {});
  removeTempDirs();
});

test("restarted during a Supervisor freeze, the hub keeps the freeze without issuing it again, lifts it after recovery and the hold, and keeps its role records and API-set modes", async () => {
  // The Risk officer advisory and the Researcher off, through the admin API (the file says off and advisory).
  expect(await hub.api("PUT", "/api/federation/roles/risk_officer", { mode: "advisory" })).toMatchObject({ status: 200 });
  expect(await hub.api("PUT", "/api/federation/roles/researcher", { mode: "off" })).toMatchObject({ status: 200 });

  await reportDrawdown(20);
  const freeze = await eventually(async () => (await roleDecisions()).find((d: any) => d.type === "FREEZE"), 10_000, "the Supervisor's FREEZE");
  const advisory = await eventually(async () => {
    const decisions = (await recorded()).decisions.filter((d: any) => d.role === "risk_officer" && d.mode === "advisory");
    return decisions.length === NODES.length && decisions;
  }, 10_000, "the Risk officer's advisory decisions");
  await eventually(async () => (await recorded()).decisions.find((d: any) => d.decision_id === freeze.id), 10_000, "the FREEZE record with its decision id");
  expect(fleetMode()).toBe("FREEZE");
  const before = await recorded();
  const statusBefore = (await hub.api("GET", "/api/federation/status")).body;

  await stopHub();
  const restartedAt = Date.now();
  hub = await startHub();
  /** The alerts raised since the restart (the ones before it may be kept too). */
  const alertsSinceRestart = async () => (await hub.api("GET", "/api/federation/alerts")).body.alerts.filter((a: any) => a.at >= restartedAt);

  // Rebuilt: nothing issued or raised, the freeze in force, the records and modes as they were.
  expect(logged.some((line) => /^federation engine rebuilt in \d+ ms: \d+ events since /.test(line))).toBe(true);
  expect(await alertsSinceRestart()).toEqual([]);
  expect(fleetMode()).toBe("FREEZE");
  const after = await recorded();
  expect(after.decisions).toEqual(before.decisions);
  expect(after.decisions).toEqual(expect.arrayContaining(advisory));
  expect(after.conflicts).toEqual(before.conflicts);
  const statusAfter = (await hub.api("GET", "/api/federation/status")).body;
  expect(statusAfter.roles).toEqual(statusBefore.roles);
  expect(statusAfter.total_decisions).toBe(statusBefore.total_decisions);
  for (const role of Object.keys(statusBefore.role_status)) {
    expect({ role, ...statusAfter.role_status[role], last_evaluation: null }).toEqual({ role, ...statusBefore.role_status[role], last_evaluation: null });
  }
  expect(after.roles).toMatchObject({ risk_officer: { mode: "advisory" }, researcher: { mode: "off" }, supervisor: { mode: "active" } });

  // The drawdown still past the limit: the freeze it already put in force is not issued again, nor the Risk officer's steps recorded again.
  await connectNodes();
  await reportDrawdown(20);
  await supervisorEvaluates(4);
  expect((await roleDecisions()).map((d: any) => d.id)).toEqual([freeze.id]);
  expect((await recorded()).decisions).toEqual(before.decisions);
  expect(await alertsSinceRestart()).toEqual([]);

  // Recovered: lifted once the hold since the freeze (before the restart) has passed.
  await reportDrawdown(2);
  const lift = await eventually(async () => (await roleDecisions()).find((d: any) => d.type === "MODE_CHANGE"), 15_000, "the Supervisor lifting the freeze");
  expect(lift).toMatchObject({ target: "fleet", payload: { mode: "LIVE" }, origin: { kind: "role", role: "supervisor" } });
  const made = before.decisions.find((d: any) => d.decision_id === freeze.id);
  const lifted = (await recorded()).decisions.find((d: any) => d.type === "MODE_CHANGE");
  expect(lifted.at - made.at).toBeGreaterThanOrEqual(HOLD_S * 1000);
  expect(fleetMode()).toBe("LIVE");
}, 60_000);

test("a config file that changed a role's mode while the hub was down wins over the mode the API set; one it did not change keeps the API's", async () => {
  await stopHub();
  writeFileSync(configFile, config("active"));
  hub = await startHub();
  expect((await recorded()).roles).toMatchObject({ researcher: { mode: "active" }, risk_officer: { mode: "advisory" } });
}, 30_000);
