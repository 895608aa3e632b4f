// The strategy's reports in the agent's store (strategy-reports.ts) on a real
// SQLite file: checks naming the field, time order within a series, retries,
// the cap on models, all-or-none batches queued with the store write, and
// the history bound per series.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { MAX_MODELS_PER_NODE, REPORT_HISTORY } from "../protocol/reports.ts";
import { reportedPortfolio } from "../test/fixtures/portfolio.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import { Outbox } from "./outbox.ts";
import { StrategyReports, type CheckedReports } from "./strategy-reports.ts";
import type { ReportKind } from "../protocol/reports.ts";

afterEach(cleanUp);

const NOW = 1_760_000_000_000;

const PORTFOLIO = reportedPortfolio(NOW);
const HEALTH = { system_status: "HEALTHY", ess_state: "NOMINAL", ts: NOW } as const;
const MODEL = { model_name: "NHiTS", sharpe_ratio: 1.2, win_rate: 0.55, profit_factor: 1.6, total_trades: 40, days_since_training: 2.5, ts: NOW };

function setUp(queue = true): { db: SqliteDatabase; outbox: Outbox; reports: StrategyReports } {
  const db = closeLater(openAgentDatabase(join(tempDir(), "agent.sqlite")));
  const outbox = new Outbox(db, { maxMessages: 100_000 });
  return { db, outbox, reports: new StrategyReports(db, outbox, { nodeId: "pi-1", queue }) };
}

/** Checks and records; returns what the check said. */
function report<K extends ReportKind>(reports: StrategyReports, kind: K, inputs: unknown[], now = NOW): CheckedReports<K> {
  const checked = reports.check(kind, inputs, now);
  reports.record(checked, now);
  return checked;
}

const rows = (db: SqliteDatabase, kind: string, series = "") =>
  db.prepare("SELECT ts FROM strategy_reports WHERE kind = ? AND series = ? ORDER BY id").all<{ ts: number }>(kind, series).map((r) => r.ts);

test("a report is kept, shown as the latest with when it came, and queued for the hub on its topic", () => {
  const { outbox, reports } = setUp();
  expect(reports.latest()).toEqual({ portfolio: null, health: null, models: [] });
  report(reports, "portfolio", [PORTFOLIO], NOW + 5);
  report(reports, "health", [HEALTH], NOW + 6);
  report(reports, "models", [MODEL, { ...MODEL, model_name: "XGBoost" }], NOW + 7);
  expect(reports.latest()).toEqual({
    portfolio: { report: PORTFOLIO, received_at: NOW + 5 },
    health: { report: HEALTH, received_at: NOW + 6 },
    models: [
      { report: MODEL, received_at: NOW + 7 },
      { report: { ...MODEL, model_name: "XGBoost" }, received_at: NOW + 7 },
    ],
  });
  expect(outbox.peek(10).map((m) => [m.topic, m.qos, m.retain, JSON.parse(m.payload)])).toEqual([
    ["edgefed/v1/nodes/pi-1/portfolio", 1, false, PORTFOLIO],
    ["edgefed/v1/nodes/pi-1/health", 1, false, HEALTH],
    ["edgefed/v1/nodes/pi-1/models", 1, false, MODEL],
    ["edgefed/v1/nodes/pi-1/models", 1, false, { ...MODEL, model_name: "XGBoost" }],
  ]);
});

test("fields beyond the contract's are left out, not refused; nothing else is changed", () => {
  const { outbox, reports } = setUp();
  report(reports, "portfolio", [{ ...PORTFOLIO, cash_balance: 7000 }]);
  report(reports, "health", [{ ...HEALTH, active_alerts: ["x"], subsystem_scores: { ai: 95 } }]);
  expect(reports.latest().portfolio!.report).toEqual(PORTFOLIO);
  expect(outbox.peek(10).map((m) => JSON.parse(m.payload))).toEqual([PORTFOLIO, HEALTH]);
});

test.each([
  ["portfolio", { ...PORTFOLIO, total_equity: "10000" }, /^total_equity: /],
  ["portfolio", { ...PORTFOLIO, total_equity: -1 }, /^total_equity: must be 0 or more$/],
  ["portfolio", { ...PORTFOLIO, drawdown_pct: -0.01 }, /^drawdown_pct: must be 0 or more$/],
  ["portfolio", { ...PORTFOLIO, max_drawdown_pct: null }, /^max_drawdown_pct: /],
  ["portfolio", { ...PORTFOLIO, realized_pnl_today: Infinity }, /^realized_pnl_today: .*Infinity/],
  ["portfolio", { ...PORTFOLIO, unrealized_pnl: Number.NaN }, /^unrealized_pnl: /],
  ["portfolio", { ...PORTFOLIO, num_positions: 1.5 }, /^num_positions: .*int/],
  ["portfolio", { ...PORTFOLIO, num_positions: -1 }, /^num_positions: /],
  ["portfolio", { ...PORTFOLIO, total_exposure_usd: -5 }, /^total_exposure_usd: must be 0 or more$/],
  ["portfolio", { ...PORTFOLIO, win_rate_today: 55 }, /^win_rate_today: a fraction from 0 to 1 \(0.55 = 55%\)$/],
  ["portfolio", { ...PORTFOLIO, sharpe_ratio_7d: undefined }, /^sharpe_ratio_7d: /],
  ["portfolio", { ...PORTFOLIO, ts: 1.5e12 + 0.5 }, /^ts: /],
  ["portfolio", { ...PORTFOLIO, ts: 1_760_000_000 }, /^ts: 1760000000 is before 2000 in ms since the epoch/],
  ["portfolio", { ...PORTFOLIO, ts: NOW + 60_001 }, /^ts: 1760000060001 \(.*\) is more than 60 s ahead of this clock/],
  ["portfolio", 42, /^body: /],
  ["health", { ...HEALTH, system_status: "FINE" }, /^system_status: /],
  ["health", { ...HEALTH, ess_state: "nominal" }, /^ess_state: /],
  ["health", { system_status: "OPTIMAL", ts: NOW }, /^ess_state: /],
  ["models", { ...MODEL, model_name: "bad name" }, /^model_name: 1 to 64 of letters, digits, _ \. and -$/],
  ["models", { ...MODEL, sharpe_ratio: "high" }, /^sharpe_ratio: /],
  ["models", { ...MODEL, win_rate: 1.01 }, /^win_rate: a fraction/],
  ["models", { ...MODEL, profit_factor: -0.1 }, /^profit_factor: must be 0 or more$/],
  ["models", { ...MODEL, total_trades: 3.2 }, /^total_trades: /],
  ["models", { ...MODEL, days_since_training: -1 }, /^days_since_training: must be 0 or more$/],
] as const)("%s refused: %j", (kind, input, message) => {
  const { db, outbox, reports } = setUp();
  expect(() => reports.check(kind, [input], NOW)).toThrow(message);
  expect(outbox.depth()).toBe(0);
  expect(rows(db, kind)).toEqual([]);
});

test("boundaries are inclusive: zero everywhere, win rates of 0 and 1, ts exactly 60 s ahead", () => {
  const { reports } = setUp();
  const zero = { ...PORTFOLIO, total_equity: 0, drawdown_pct: 0, max_drawdown_pct: 0, num_positions: 0, total_exposure_usd: 0, win_rate_today: 0 };
  expect(report(reports, "portfolio", [zero]).fresh).toEqual([zero]);
  expect(report(reports, "portfolio", [{ ...zero, win_rate_today: 1, ts: NOW + 60_000 }]).fresh).toHaveLength(1);
  expect(report(reports, "models", [{ ...MODEL, win_rate: 0, profit_factor: 0, total_trades: 0, days_since_training: 0 }]).fresh).toHaveLength(1);
});

test("within a series ts only grows: an older report is refused, a retry of the latest is a duplicate, another with its ts is refused", () => {
  const { db, outbox, reports } = setUp();
  report(reports, "portfolio", [PORTFOLIO]);
  expect(() => reports.check("portfolio", [{ ...PORTFOLIO, ts: NOW - 1 }], NOW)).toThrow(
    `ts: ${NOW - 1} is before that of the latest portfolio snapshot (${NOW}); reports come in time order`,
  );
  expect(report(reports, "portfolio", [PORTFOLIO])).toMatchObject({ fresh: [], duplicates: 1 });
  expect(() => reports.check("portfolio", [{ ...PORTFOLIO, total_equity: 1 }], NOW)).toThrow(`ts: another portfolio snapshot with ts ${NOW} was recorded already`);
  // Each model is its own series: an older report of another model is fine.
  report(reports, "models", [{ ...MODEL, ts: NOW }]);
  expect(report(reports, "models", [{ ...MODEL, model_name: "XGBoost", ts: NOW - 100 }]).fresh).toHaveLength(1);
  expect(() => reports.check("models", [{ ...MODEL, ts: NOW - 1 }], NOW)).toThrow(/^ts: .* the latest report of model NHiTS/);
  // Within one batch too.
  expect(() => reports.check("models", [{ ...MODEL, ts: NOW + 2 }, { ...MODEL, ts: NOW + 1 }], NOW)).toThrow(/before that of the latest report of model NHiTS \(1760000000002\)/);
  expect(rows(db, "portfolio")).toEqual([NOW]);
  expect(outbox.depth()).toBe(3);
});

test("a batch is all or none: a refused report leaves nothing of it stored or queued, and says which one it was", () => {
  const { db, outbox, reports } = setUp();
  let refused: unknown;
  try {
    reports.check("models", [MODEL, { ...MODEL, model_name: "XGBoost" }, { ...MODEL, model_name: "LightGBM", win_rate: 2 }], NOW);
  } catch (error) {
    refused = error;
  }
  expect(refused).toMatchObject({ name: "ReportRefusedError", index: 2, message: expect.stringMatching(/^win_rate: /) });
  expect(rows(db, "models", "NHiTS")).toEqual([]);
  expect(outbox.depth()).toBe(0);
});

test(`a node reports at most ${MAX_MODELS_PER_NODE} models; the ones it has go on reporting`, () => {
  const { db, reports } = setUp();
  const many = Array.from({ length: MAX_MODELS_PER_NODE }, (_, i) => ({ ...MODEL, model_name: `model-${i}` }));
  report(reports, "models", many);
  expect(() => reports.check("models", [{ ...MODEL, model_name: "one-more" }], NOW)).toThrow(
    `model_name: one-more would be a model past the ${MAX_MODELS_PER_NODE} this node may report`,
  );
  expect(report(reports, "models", [{ ...MODEL, model_name: "model-7", ts: NOW + 1 }]).fresh).toHaveLength(1);
  expect(db.prepare("SELECT count(DISTINCT series) AS n FROM strategy_reports WHERE kind = 'models'").get<{ n: number }>()!.n).toBe(MAX_MODELS_PER_NODE);
});

test(`history is bounded per series: the newest ${REPORT_HISTORY.portfolio} snapshots, the newest ${REPORT_HISTORY.models} of each model`, () => {
  const { db, reports } = setUp(false);
  const extra = 5;
  for (let i = 0; i < REPORT_HISTORY.portfolio + extra; i++) report(reports, "portfolio", [{ ...PORTFOLIO, ts: NOW + i }], NOW + i);
  const kept = rows(db, "portfolio");
  expect(kept).toHaveLength(REPORT_HISTORY.portfolio);
  expect(kept[0]).toBe(NOW + extra);
  expect(kept.at(-1)).toBe(NOW + REPORT_HISTORY.portfolio + extra - 1);
  expect(reports.latest().portfolio!.report.ts).toBe(NOW + REPORT_HISTORY.portfolio + extra - 1);

  // One batch longer than the bound, beside a model that stays small.
  report(reports, "models", [{ ...MODEL, model_name: "small" }]);
  report(reports, "models", Array.from({ length: REPORT_HISTORY.models + extra }, (_, i) => ({ ...MODEL, ts: NOW + i })));
  expect(rows(db, "models", "NHiTS")).toEqual(Array.from({ length: REPORT_HISTORY.models }, (_, i) => NOW + extra + i));
  expect(rows(db, "models", "small")).toEqual([NOW]);
});

test("without a hub reports are kept but not queued", () => {
  const { db, outbox, reports } = setUp(false);
  report(reports, "health", [HEALTH]);
  expect(rows(db, "health")).toEqual([NOW]);
  expect(outbox.depth()).toBe(0);
});
