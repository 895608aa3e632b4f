// The simulated strategy: the same seed and times give the same reports; its
// equity has drawdowns now and then, health follows them, and it reports
// models and closes as a real strategy would (every report passes the wire
// schema the hub checks).
import { expect, test } from "bun:test";
import { CloseMessage, ModelPerformanceMessage, PortfolioMessage, SystemHealthMessage } from "../protocol/messages.ts";
import { SimulatedStrategy, type StrategyStep } from "./sim-strategy.ts";

const START = Date.UTC(2026, 11, 1);
const STEP_MS = 5000;

function run(seed: number, steps: number): StrategyStep[] {
  const strategy = new SimulatedStrategy(seed, START);
  return Array.from({ length: steps }, (_, i) => strategy.step(START + i * STEP_MS));
}

test("the same seed and times give the same reports; another seed others", () => {
  expect(run(7, 500)).toEqual(run(7, 500));
  expect(run(8, 500)).not.toEqual(run(7, 500));
});

test("a day of steps: drawdowns now and then, health that follows them, models and closes, all valid on the wire", () => {
  const steps = run(42, 17_280); // a day at a step every 5 s
  const drawdowns = steps.map((s) => s.portfolio.drawdown_pct);
  expect(Math.max(...drawdowns)).toBeGreaterThan(4); // at least one real drawdown
  expect(drawdowns.filter((d) => d < 1).length).toBeGreaterThan(steps.length / 10); // and calm between them

  const essByDrawdown = (d: number) => (d > 10 ? "CRITICAL" : d > 6 ? "WARNING" : d > 3 ? "CAUTION" : "NOMINAL");
  const healths = steps.flatMap((s) => (s.health ? [[s.health, s.portfolio.drawdown_pct] as const] : []));
  expect(healths.length).toBeGreaterThan(steps.length / 7);
  for (const [health, drawdown] of healths) expect(health.ess_state).toBe(essByDrawdown(drawdown));
  expect(new Set(healths.map(([h]) => h.ess_state)).size).toBeGreaterThan(2);

  const models = steps.flatMap((s) => s.models);
  expect(models.length).toBeGreaterThanOrEqual(Math.floor(steps.length / 12));
  const closes = steps.flatMap((s) => s.closes);
  expect(closes.length).toBeGreaterThan(100);
  for (const close of closes) expect(close.exit === "take_profit" ? close.pnl_usd! > 0 : close.exit === "stop_loss" ? close.pnl_usd! <= 0 : true).toBe(true);
  expect([...new Set(closes.map((c) => c.exit))]).toEqual(expect.arrayContaining(["stop_loss", "take_profit", "manual"]));
  // A liquidation only deep in a drawdown.
  for (const step of steps) if (step.closes.some((c) => c.exit === "liquidation")) expect(step.portfolio.drawdown_pct).toBeGreaterThan(8);

  for (const step of steps) {
    PortfolioMessage.parse(step.portfolio);
    if (step.health) SystemHealthMessage.parse(step.health);
    for (const model of step.models) ModelPerformanceMessage.parse(model);
  }
  closes.forEach((close, i) => CloseMessage.parse({ seq: i + 1, symbol: close.symbol, ts: close.ts, pnl_usd: close.pnl_usd, exit: close.exit }));
  const ts = steps.map((s) => s.portfolio.ts);
  expect(ts.every((t, i) => i === 0 || t > ts[i - 1]!)).toBe(true);
});
