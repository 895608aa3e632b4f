// `npm run gate` with the account (issue 11): portfolio lines and closes
// with their outcome change what the risk limits judge by; health and model
// lines are acknowledged and counted; a replay gives the same verdicts, also
// resumed on the same --db after a stop.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { portfolio, SNAPSHOT_TS } from "./fixtures/portfolio.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";

afterAll(removeTempDirs);

const GATE_CLI = join(REPO_ROOT, "kernel/gate-cli.ts");
const T = SNAPSHOT_TS;

function runGate(args: string[], lines: unknown[]): { out: any[]; stderr: string } {
  const input = lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n");
  const result = Bun.spawnSync([BUN, GATE_CLI, ...args], { stdin: new TextEncoder().encode(input), stderr: "pipe" });
  expect(result.exitCode).toBe(0);
  return { out: result.stdout.toString().split("\n").slice(0, -1).map((line) => JSON.parse(line)), stderr: result.stderr.toString() };
}

/** A BUY of 1 at 100 with its stop at 90 (risk 10 USD) that passes every economic gate. */
const entry = (id: string, ts: number, symbol = "BTCUSDT") => ({ id, symbol, side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts });

function policyFile(policy: object): string {
  const path = join(tempDir(), "policy.json");
  writeFileSync(path, JSON.stringify(policy));
  return path;
}

describe("gate command: portfolio, health and model lines", () => {
  test("portfolio lines drive the ESS and the risk limits; health and model lines are acknowledged and change nothing", () => {
    const policy = policyFile({ ess: { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 }, capital: { profile: null, max_daily_risk_pct: 1 } });
    const { out, stderr } = runGate(
      ["--policy", policy],
      [
        entry("before", T), // no portfolio yet
        { type: "portfolio", ...portfolio({ ts: T + 1, drawdown_pct: 16 }) },
        entry("critical", T + 2),
        { type: "health", system_status: "HEALTHY", ess_state: "NOMINAL", ts: T + 3 }, // the strategy's own view does not lift the kernel's
        { type: "model", model_name: "NHiTS", sharpe_ratio: 1.2, win_rate: 0.55, profit_factor: 1.4, total_trades: 120, days_since_training: 3, ts: T + 4 },
        entry("still", T + 5),
        { type: "portfolio", ...portfolio({ ts: T + 6, drawdown_pct: 4, realized_pnl_today: -95 }) },
        entry("daily", T + 7, "ETHUSDT"), // 95 realised + 10 > 100
        { type: "close", symbol: "SOLUSDT", ts: T + 8, pnl_usd: 10, exit: "take_profit" },
        entry("after-profit", T + 9, "ETHUSDT"), // 95 - 10 + 10 <= 100
        { type: "portfolio", ...portfolio({ ts: T + 10, drawdown_pct: -1 }) },
        { type: "health", system_status: "FINE" },
        { type: "model", sharpe_ratio: 1 },
        { type: "close", symbol: "SOLUSDT", ts: T + 11, exit: "timeout" },
      ],
    );
    expect(out).toEqual([
      expect.objectContaining({ id: "before", verdict: "HOLD", reasons: ["NO_PORTFOLIO"] }),
      { type: "portfolio_ack", ts: T + 1, ess_state: "CRITICAL", tradable_equity: 10_000 },
      expect.objectContaining({ id: "critical", reasons: ["ESS_CRITICAL"] }),
      { type: "health_ack", ts: T + 3 },
      { type: "model_ack", ts: T + 4 },
      expect.objectContaining({ id: "still", reasons: ["ESS_CRITICAL"] }),
      { type: "portfolio_ack", ts: T + 6, ess_state: "NOMINAL", tradable_equity: 10_000 },
      expect.objectContaining({ id: "daily", reasons: ["DAILY_RISK"] }),
      { type: "close_ack", symbol: "SOLUSDT", ts: T + 8 },
      expect.objectContaining({ id: "after-profit", verdict: "PASS" }),
      { error: "invalid_portfolio", line: 11, detail: "drawdown_pct: must be a finite number, 0 or more" },
      { error: "invalid_health", line: 12, detail: "system_status: must be one of OPTIMAL, HEALTHY, DEGRADED, CRITICAL, EMERGENCY" },
      { error: "invalid_model", line: 13, detail: "model_name: must be a model's name" },
      { error: "invalid_close", line: 14, detail: "exit: must be one of stop_loss, take_profit, manual, liquidation" },
    ]);
    expect(stderr).toContain("1 PASS, 4 HOLD, 5 closes and errors, 2 portfolio, 1 health and 1 model lines");
  });

  test("a policy file with a cashflow and a capital profile: tradable equity is what the limits take their share of", () => {
    const policy = policyFile({ capital: { profile: "MICRO" }, cashflow: { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 20 } });
    const { out } = runGate(
      ["--policy", policy],
      [
        { type: "close", symbol: "SOLUSDT", ts: T, pnl_usd: 4000, exit: "take_profit" }, // since 0: every close counts
        { type: "portfolio", ...portfolio({ ts: T + 1, total_equity: 14_000 }) },
        entry("small", T + 2), // MICRO: 0.25% of 14,000 - 2,000 locked - 2,800 reserve = 23 USD
        { ...entry("big", T + 3, "ETHUSDT"), qty: 2.4, expected_move_usd: 20 }, // 24 USD at stop
      ],
    );
    expect(out.slice(1)).toEqual([
      { type: "portfolio_ack", ts: T + 1, ess_state: "NOMINAL", tradable_equity: 9200 },
      expect.objectContaining({ id: "small", verdict: "PASS" }),
      expect.objectContaining({ id: "big", reasons: ["RISK_PER_TRADE"] }),
    ]);
  });

  test("the same stream replayed gives the same lines; resumed on the same --db after a stop, the rest follows the same", () => {
    const policy = policyFile({ ess: { caution_threshold_pct: 3, warning_threshold_pct: 6, critical_threshold_pct: 9 }, max_notional_usd: 150, max_exposure_pct: 5 });
    const lines: unknown[] = [];
    [0, 4, 7, 10, 7, 2, 0].forEach((drawdown_pct, n) => {
      const base = T + n * 100_000;
      lines.push({ type: "portfolio", ...portfolio({ ts: base, drawdown_pct, total_exposure_usd: 150 * n }) });
      for (let k = 0; k < 4; k++) lines.push({ ...entry(`i${n}-${k}`, base + 1000 * (k + 1), `S${k}USDT`), qty: 0.8 + 0.2 * k });
      lines.push({ type: "close", symbol: "S1USDT", ts: base + 5000, pnl_usd: -3, exit: "stop_loss" });
    });
    const whole = runGate(["--policy", policy], lines).out;
    expect(runGate(["--policy", policy], lines).out).toEqual(whole);
    const reasons = new Set(whole.flatMap((line) => line.reasons ?? []));
    for (const reason of ["ESS_CAUTION", "ESS_WARNING", "ESS_CRITICAL", "MAX_EXPOSURE"]) expect([reason, reasons.has(reason)]).toEqual([reason, true]);

    const db = join(tempDir(), "journal.db");
    const cut = 17;
    const first = runGate(["--policy", policy, "--db", db], lines.slice(0, cut)).out;
    const rest = runGate(["--policy", policy, "--db", db], lines.slice(cut)).out;
    expect([...first, ...rest]).toEqual(whole);
  });
});
