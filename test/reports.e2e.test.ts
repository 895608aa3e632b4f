// The strategy's reports end to end, on both brokers: a portfolio snapshot,
// a health report and model reports posted to a real agent's local API reach
// a real hub (the node's view, the fleet aggregate in the status, the
// history), also when posted while the hub was down: queued in the agent's
// outbox and replayed in order when the hub is back.
import { afterAll, describe, expect, test } from "bun:test";
import { Agent } from "../agent/agent.ts";
import { freePort, removeTempDirs } from "./helpers.ts";
import { postJson, testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";

const portfolio = (ts: number, total_equity: number, drawdown_pct = 0.01) => ({
  total_equity,
  drawdown_pct,
  max_drawdown_pct: 0.04,
  realized_pnl_today: 12.5,
  unrealized_pnl: -3,
  num_positions: 1,
  total_exposure_usd: 800,
  win_rate_today: 0.5,
  sharpe_ratio_7d: 1.1,
  ts,
});
const health = (ts: number, system_status: string, ess_state: string) => ({ system_status, ess_state, ts });
const model = (model_name: string, ts: number, total_trades: number) => ({
  model_name,
  sharpe_ratio: 1.3,
  win_rate: 0.56,
  profit_factor: 1.7,
  total_trades,
  days_since_training: 4,
  ts,
});

describe.each(["embedded", "mosquitto"] as const)("strategy reports, %s broker", (brokerKind) => {
  let mosquitto: RunningMosquitto | undefined;
  let hub: TestHub | undefined;
  let agent: Agent | undefined;
  afterAll(async () => {
    await agent?.stop().catch(() => {});
    await hub?.stop().catch(() => {});
    await mosquitto?.stop();
    removeTempDirs();
  });

  test("reach the hub's node view, status and history, and replay in order after the hub was down", async () => {
    const nodeId = `reports-${brokerKind}`;
    if (brokerKind === "mosquitto") mosquitto = await startMosquitto({ dynsec: true });
    // Fixed ports, so the agent finds the hub again after its restart.
    const env = { EDGEFED_HTTP_PORT: String(await freePort()), EDGEFED_MQTT_PORT: String(await freePort()) };
    hub = await startTestHub({ mosquitto, env });
    const dataDir = hub.dataDir;
    agent = await Agent.start(testAgentConfig(hub, nodeId, { apiPort: 0 }));
    const report = async (path: string, body: unknown) => {
      const response = await postJson(agent!, path, body);
      expect(response.status).toBe(200);
      return response.body;
    };
    const view = async () => (await hub!.api("GET", `/federation/nodes/${nodeId}`)).body;
    const history = async (query: string) => (await hub!.api("GET", `/federation/nodes/${nodeId}/history?${query}`)).body;
    const tsOf = (page: { reports: { report: { ts: number } }[] }) => page.reports.map((r) => r.report.ts);
    await eventually(async () => (await view()).state?.session >= 1 && agent!.online, 10_000, "agent online");

    // Online: straight through.
    const t0 = Date.now();
    expect(await report("/v1/portfolio", portfolio(t0, 10_000))).toEqual({ recorded: 1, duplicates: 0 });
    await report("/v1/health", health(t0, "HEALTHY", "CAUTION"));
    await report("/v1/models", [model("NHiTS", t0, 20), model("XGBoost", t0, 5)]);
    const reports = await eventually(async () => {
      const r = (await view()).reports;
      return r?.models.length === 2 && r;
    }, 10_000, "the reports in the node's view");
    expect(reports.portfolio).toEqual({ report: portfolio(t0, 10_000), received_at: expect.any(Number) });
    expect(reports.health.report).toEqual(health(t0, "HEALTHY", "CAUTION"));
    expect(reports.models.map((m: { report: unknown }) => m.report)).toEqual([model("NHiTS", t0, 20), model("XGBoost", t0, 5)]);
    const status = (await hub.api("GET", "/api/federation/status")).body;
    expect(status.fleet.portfolio).toMatchObject({ nodes: 1, total_equity: 10_000, worst_drawdown_pct: 0.01, worst_drawdown_node: nodeId });
    expect(status.fleet.health.by_ess_state).toEqual({ NOMINAL: 0, CAUTION: 1, WARNING: 0, CRITICAL: 0 });
    expect(status.fleet.models.NHiTS).toMatchObject({ nodes: 1, total_trades: 20, win_rate: 0.56 });
    expect(status.nodes.total).toBe(1); // today's fields stay
    await eventually(async () => tsOf(await history("kind=portfolio")).length === 1, 5000, "the snapshot in the history (next flush)");

    // The hub goes away; the strategy goes on reporting.
    await hub.stop();
    await eventually(() => !agent!.online, 10_000, "agent offline");
    const offline = [1, 2, 3].map((i) => portfolio(t0 + i * 1000, 10_000 - i * 100, 0.01 * (i + 1)));
    for (const snapshot of offline) await report("/v1/portfolio", snapshot);
    await report("/v1/health", health(t0 + 3000, "DEGRADED", "WARNING"));
    await report("/v1/models", model("NHiTS", t0 + 3000, 24));
    expect(agent.outbox.stats().byKind).toMatchObject({ portfolio: 3, health: 1, models: 1 });
    expect((agent.status() as { reports: { portfolio: { report: unknown } } }).reports.portfolio.report).toEqual(offline[2]);

    hub = await startTestHub({ mosquitto, env, dataDir });
    await eventually(async () => tsOf(await history("kind=portfolio")).length === 4, 20_000, "the replayed snapshots in the history");
    expect(tsOf(await history("kind=portfolio"))).toEqual([t0 + 3000, t0 + 2000, t0 + 1000, t0]); // newest first: replayed in order
    const back = (await view()).reports;
    expect(back.portfolio.report).toEqual(offline[2]);
    expect(back.health.report).toEqual(health(t0 + 3000, "DEGRADED", "WARNING"));
    expect(back.models.find((m: { report: { model_name: string } }) => m.report.model_name === "NHiTS").report.total_trades).toBe(24);
    expect(back.duplicates).toBe(0);
    const after = (await hub.api("GET", "/api/federation/status")).body.fleet;
    expect(after.portfolio).toMatchObject({ nodes: 1, total_equity: 9_700, worst_drawdown_pct: 0.04 });
    expect(after.health.by_system_status.DEGRADED).toBe(1);
    await eventually(() => agent!.outbox.depth() === 0, 5000, "outbox drained");

    // Pages, a model's own history, and bad queries.
    const first = await history("kind=portfolio&limit=3");
    expect(tsOf(first)).toEqual([t0 + 3000, t0 + 2000, t0 + 1000]);
    expect(tsOf(await history(`kind=portfolio&limit=3&before=${first.next_before}`))).toEqual([t0]);
    expect(tsOf(await history("kind=models&model=NHiTS"))).toEqual([t0 + 3000, t0]);
    expect(tsOf(await history("kind=health"))).toEqual([t0 + 3000, t0]);
    expect((await hub.api("GET", `/federation/nodes/${nodeId}/history?kind=trades`)).status).toBe(400);
    expect((await hub.api("GET", `/federation/nodes/${nodeId}/history?kind=health&model=NHiTS`)).body.detail).toContain("model");
    expect((await hub.api("GET", "/federation/nodes/nobody-here/history?kind=health")).status).toBe(404);

    // The history goes with the node (the store contract checks the rows are deleted).
    expect((await hub.api("DELETE", `/federation/nodes/${nodeId}`)).status).toBe(200);
    expect((await hub.api("GET", `/federation/nodes/${nodeId}/history?kind=portfolio`)).status).toBe(410);
  }, 60_000);
});
