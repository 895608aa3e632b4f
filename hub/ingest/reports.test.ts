// Strategy reports through the hub's ingest (ingest.ts) into a real fleet
// view and a real SQLite registry: the latest of each series in the node's
// live state at once, the history with the next flush, redeliveries counted
// once, and what is refused dropped with its reason.
import { afterEach, describe, expect, test } from "bun:test";
import { nodeTopic } from "../../protocol/topics.ts";
import { MAX_MODELS_PER_NODE, type ReportKind, type ReportOf } from "../../protocol/reports.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { Fleet } from "../nodes/fleet.ts";
import { fleetReports } from "../nodes/fleet-reports.ts";
import type { HubStore } from "../store/hub-store.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { Ingest } from "./ingest.ts";

afterEach(cleanUp);

const T0 = 1_760_000_000_000;

async function setUp(nodeIds: string[]): Promise<{ store: HubStore; fleet: Fleet; ingest: Ingest; logs: string[]; clock: { now: number } }> {
  const store = closeLater(openSqliteStore(tempDir()));
  await store.write(async (tx) => {
    for (const id of nodeIds) await tx.nodes.save(registeredNode(id, T0));
  });
  const fleet = await Fleet.load(store, { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: 0 });
  const logs: string[] = [];
  const clock = { now: T0 };
  const ingest = new Ingest(fleet, { onAck: async () => null, onBirth: () => {}, onWorkProgress: async () => null, onWorkResult: async () => null }, (line) => logs.push(line), () => clock.now);
  return { store, fleet, ingest, logs, clock };
}

const portfolio = (ts: number, overrides: Partial<ReportOf["portfolio"]> = {}): ReportOf["portfolio"] => ({
  total_equity: 10_000,
  drawdown_pct: 0.02,
  max_drawdown_pct: 0.05,
  realized_pnl_today: 100,
  unrealized_pnl: -20,
  num_positions: 2,
  total_exposure_usd: 3000,
  win_rate_today: 0.5,
  sharpe_ratio_7d: 1.2,
  ts,
  ...overrides,
});
const health = (ts: number, system_status: ReportOf["health"]["system_status"] = "HEALTHY", ess_state: ReportOf["health"]["ess_state"] = "NOMINAL") =>
  ({ system_status, ess_state, ts }) as ReportOf["health"];
const model = (model_name: string, ts: number, overrides: Partial<ReportOf["models"]> = {}): ReportOf["models"] => ({
  model_name,
  sharpe_ratio: 1,
  win_rate: 0.5,
  profit_factor: 1.4,
  total_trades: 10,
  days_since_training: 2,
  ts,
  ...overrides,
});

function send(ingest: Ingest, nodeId: string, kind: ReportKind, payload: unknown, retained = false): void {
  ingest.handle(nodeTopic(nodeId, kind), Buffer.from(JSON.stringify(payload)), retained);
}

describe("strategy reports through ingest", () => {
  test("the latest of each series is in the node's live view at once; the history with the flush, each report once", async () => {
    const { store, fleet, ingest } = await setUp(["pi-1"]);
    send(ingest, "pi-1", "portfolio", portfolio(T0));
    send(ingest, "pi-1", "portfolio", portfolio(T0 + 5000, { total_equity: 9_000 }));
    send(ingest, "pi-1", "health", health(T0, "DEGRADED", "CAUTION"));
    send(ingest, "pi-1", "models", model("NHiTS", T0));
    send(ingest, "pi-1", "portfolio", portfolio(T0 + 5000, { total_equity: 9_000 })); // a redelivery
    const live = fleet.get("pi-1")!.live;
    expect(live.reports.portfolio).toEqual({ report: portfolio(T0 + 5000, { total_equity: 9_000 }), receivedAt: T0 });
    expect(live.reports.health!.report).toEqual(health(T0, "DEGRADED", "CAUTION"));
    expect(live.reports.models.map((m) => m.report)).toEqual([model("NHiTS", T0)]);
    expect(live.reports.duplicates).toBe(1);
    expect(live.lastSeen).toBe(T0);
    expect(ingest.stats()).toMatchObject({ received: 5, applied: 5, dropped: 0 });

    expect(await store.reports.history("pi-1", "portfolio", { limit: 10 })).toEqual([]); // not flushed yet
    await fleet.flush();
    const history = await store.reports.history("pi-1", "portfolio", { limit: 10 });
    expect(history.map((r) => [r.report.ts, (r.report as ReportOf["portfolio"]).total_equity])).toEqual([
      [T0 + 5000, 9_000],
      [T0, 10_000],
    ]);
    expect((await store.nodes.get("pi-1"))!.live.reports).toEqual(live.reports); // the latest goes with the same flush
  });

  test("refused: a bad field, the retain flag, a model past the cap; each dropped with its reason and nothing kept", async () => {
    const { store, fleet, ingest, logs } = await setUp(["pi-1"]);
    send(ingest, "pi-1", "portfolio", { ...portfolio(T0), win_rate_today: 55 });
    send(ingest, "pi-1", "health", { ...health(T0), cash: 1 });
    send(ingest, "pi-1", "health", health(T0), true);
    for (let i = 0; i < MAX_MODELS_PER_NODE; i++) send(ingest, "pi-1", "models", model(`m-${i}`, T0));
    send(ingest, "pi-1", "models", model("one-too-many", T0));
    expect(ingest.stats().dropped_by_reason).toEqual({ "invalid payload": 2, "retain not allowed": 1, "too many models": 1 });
    expect(logs[0]).toContain("portfolio: win_rate_today: a fraction from 0 to 1");
    const live = fleet.get("pi-1")!.live.reports;
    expect([live.portfolio, live.health, live.models.length]).toEqual([null, null, MAX_MODELS_PER_NODE]);
    await fleet.flush();
    expect(await store.reports.history("pi-1", "models", { limit: 1000, model: "one-too-many" })).toEqual([]);
    expect(await store.reports.history("pi-1", "health", { limit: 10 })).toEqual([]);
  });

  test("reports of an unknown node are dropped; the fleet aggregate sums the nodes' latest reports", async () => {
    const { fleet, ingest } = await setUp(["pi-1", "pi-2", "pi-3"]);
    send(ingest, "pi-9", "portfolio", portfolio(T0));
    expect(ingest.stats().dropped_by_reason).toEqual({ "unknown node": 1 });
    send(ingest, "pi-1", "portfolio", portfolio(T0, { total_equity: 1000, drawdown_pct: 0.01, num_positions: 1 }));
    send(ingest, "pi-2", "portfolio", portfolio(T0 + 1, { total_equity: 2500, drawdown_pct: 0.07, num_positions: 3 }));
    send(ingest, "pi-1", "health", health(T0, "OPTIMAL", "NOMINAL"));
    send(ingest, "pi-2", "health", health(T0, "DEGRADED", "WARNING"));
    send(ingest, "pi-3", "health", health(T0, "OPTIMAL", "NOMINAL"));
    send(ingest, "pi-1", "models", model("NHiTS", T0, { total_trades: 30, win_rate: 0.6, sharpe_ratio: 2, profit_factor: 2, days_since_training: 1 }));
    send(ingest, "pi-2", "models", model("NHiTS", T0, { total_trades: 10, win_rate: 0.2, sharpe_ratio: -1, profit_factor: 0.5, days_since_training: 9 }));
    send(ingest, "pi-2", "models", model("XGBoost", T0, { total_trades: 0, win_rate: 0 }));
    const aggregate = fleetReports(fleet.all());
    expect(aggregate.portfolio).toEqual({
      nodes: 2,
      total_equity: 3500,
      realized_pnl_today: 200,
      unrealized_pnl: -40,
      total_exposure_usd: 6000,
      num_positions: 4,
      worst_drawdown_pct: 0.07,
      worst_drawdown_node: "pi-2",
      oldest_ts: T0,
    });
    expect(aggregate.health).toEqual({
      nodes: 3,
      by_system_status: { OPTIMAL: 2, HEALTHY: 0, DEGRADED: 1, CRITICAL: 0, EMERGENCY: 0 },
      by_ess_state: { NOMINAL: 2, CAUTION: 0, WARNING: 1, CRITICAL: 0 },
    });
    expect(aggregate.models).toEqual({
      NHiTS: {
        nodes: 2,
        total_trades: 40,
        win_rate: 0.5, // (0.6 * 30 + 0.2 * 10) / 40
        mean_sharpe_ratio: 0.5,
        min_sharpe_ratio: -1,
        mean_profit_factor: 1.25,
        min_profit_factor: 0.5,
        max_days_since_training: 9,
      },
      XGBoost: { nodes: 1, total_trades: 0, win_rate: 0, mean_sharpe_ratio: 1, min_sharpe_ratio: 1, mean_profit_factor: 1.4, min_profit_factor: 1.4, max_days_since_training: 2 },
    });
  });

  test("with no report anywhere the aggregate says so with zeroes and nulls", () => {
    expect(fleetReports([registeredNode("pi-1", T0)])).toEqual({
      portfolio: { nodes: 0, total_equity: 0, realized_pnl_today: 0, unrealized_pnl: 0, total_exposure_usd: 0, num_positions: 0, worst_drawdown_pct: null, worst_drawdown_node: null, oldest_ts: null },
      health: { nodes: 0, by_system_status: { OPTIMAL: 0, HEALTHY: 0, DEGRADED: 0, CRITICAL: 0, EMERGENCY: 0 }, by_ess_state: { NOMINAL: 0, CAUTION: 0, WARNING: 0, CRITICAL: 0 } },
      models: {},
    });
  });
});
