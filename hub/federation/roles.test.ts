// Each rule of each role: it fires at its threshold and not below, counts
// only the samples of its lookback and none before min_samples, holds for
// its lock (min_hold_s / lock_s) and comes back only past its hysteresis.
// One role on at a time, no interval between decisions, so what is seen is
// the rule's own behaviour.
import { describe, expect, test } from "bun:test";
import { closeEvent, configWith, healthEvent, modelEvent, portfolioEvent, replay, s, snapshots, tick } from "../../test/fixtures/federation.ts";
import type { FederationEvent } from "../../protocol/federation-events.ts";

const NO_INTERVAL = { engine: { min_interval_s: 0 } };

/** The times (s after T0) and payloads of the decisions. */
const summary = (decisions: { at: number; type: string; payload: Record<string, unknown> }[]): Array<Record<string, any>> =>
  decisions.map((d) => ({ t: (d.at - s(0)) / 1000, type: d.type, ...Object.fromEntries(Object.entries(d.payload).filter(([k]) => k !== "reason")) }));

describe("supervisor: fleet drawdown (MaxDrawdown, fleet-wide)", () => {
  const config = configWith(NO_INTERVAL, ["supervisor"]);

  test("fires at freeze_at_pct, not below; names the inputs and threshold", () => {
    const at = replay(config, snapshots("a", 0, 6, () => 15));
    expect(summary(at.decisions)).toEqual([{ t: 10, type: "FREEZE", severity: "HIGH" }]);
    expect(at.decisions[0]!.reason).toBe("Supervisor freezes the fleet: fleet_drawdown_pct 15 (mean of 3 samples over 30 s) >= 15");
    expect(at.decisions[0]!.thresholds).toEqual({ fleet_drawdown_pct: 15 });
    expect(replay(config, snapshots("a", 0, 20, () => 14.99)).decisions).toEqual([]);
  });

  test("min_samples and lookback: two samples in the window are not enough, older ones do not count", () => {
    const events = [...snapshots("a", 0, 2, () => 20), ...snapshots("a", 40, 3, () => 20)];
    // 0 and 5 fall out of [15, 45]; at 45 only two samples (40, 45), at 50 three.
    expect(summary(replay(config, events).decisions)).toEqual([{ t: 50, type: "FREEZE", severity: "HIGH" }]);
  });

  test("hysteresis and hold: no lift between lift_below_pct and freeze_at_pct; a lift after recovery_s below it and min_hold_s", () => {
    const high = [...snapshots("a", 0, 3, () => 16)]; // frozen at 10
    const between = [...snapshots("a", 15, 400, () => 12)]; // 2,000 s at 12: stays frozen
    expect(summary(replay(config, [...high, ...between]).decisions)).toEqual([{ t: 10, type: "FREEZE", severity: "HIGH" }]);

    const recovered = [...high, ...snapshots("a", 15, 400, () => 9.9)];
    const { decisions, run } = replay(config, recovered);
    // Hold 900 s from 10; the recovery window (600 s) is all below 10 from 615 on: lifted at 910.
    expect(summary(decisions)).toEqual([
      { t: 10, type: "FREEZE", severity: "HIGH" },
      { t: 910, type: "MODE_CHANGE", mode: "LIVE" },
    ]);
    expect(decisions[1]!.reason).toContain("held 900 s >= 900 s");
    expect(run.summary().frozen_s).toEqual({ fleet: 900 });
  });

  test("the lock: recovered early, still no lift before min_hold_s", () => {
    const short = configWith({ ...NO_INTERVAL, roles: { supervisor: { fleet_drawdown: { recovery_s: 30, min_hold_s: 300 } } } }, ["supervisor"]);
    const { decisions } = replay(short, [...snapshots("a", 0, 3, () => 16), ...snapshots("a", 15, 100, () => 0)]);
    expect(summary(decisions).map((d) => d.t)).toEqual([10, 310]);
  });

  test("unhealthy share: freezes at freeze_at_share of at least min_nodes known, not below", () => {
    const states = (unhealthy: number, of: number, at: number): FederationEvent[] =>
      Array.from({ length: of }, (_, i) => ({ type: "node_health", node: `n${i}`, at: s(at), state: i < unhealthy ? "offline" : "healthy" }) as FederationEvent);
    const over = (unhealthy: number, of: number) => [0, 5, 10, 15].flatMap((t) => [...states(unhealthy, of, t), tick(s(t) + 1)]);
    expect(summary(replay(config, over(2, 4)).decisions)).toEqual([{ t: 5.001, type: "FREEZE", severity: "MEDIUM" }]);
    expect(replay(config, over(1, 4)).decisions).toEqual([]);
    expect(replay(config, over(1, 2)).decisions).toEqual([]); // two nodes known: below min_nodes
  });

  test("system_status per node: CRITICAL sustained puts it in EMERGENCY, EMERGENCY freezes it, recovery resumes it stepwise", () => {
    const events = [
      healthEvent("a", s(0), "NOMINAL", "CRITICAL"),
      healthEvent("a", s(10), "NOMINAL", "CRITICAL"), // 2 samples: EMERGENCY mode
      healthEvent("a", s(20), "NOMINAL", "EMERGENCY"),
      healthEvent("a", s(30), "NOMINAL", "EMERGENCY"), // min of the last 60 s is still CRITICAL until 0 and 10 leave the window
      healthEvent("a", s(75), "NOMINAL", "EMERGENCY"), // [15, 75]: all EMERGENCY: freeze
      ...Array.from({ length: 200 }, (_, i) => healthEvent("a", s(80 + i * 10), "NOMINAL", "HEALTHY")),
    ];
    expect(summary(replay(configWith(NO_INTERVAL, ["supervisor"]), events).decisions)).toEqual([
      { t: 10, type: "MODE_CHANGE", mode: "EMERGENCY" },
      { t: 75, type: "FREEZE", severity: "CRITICAL" },
      { t: 680, type: "MODE_CHANGE", mode: "EMERGENCY" }, // held 600 s (first report after 675), HEALTHY for the last 300 s: one step back
      { t: 1280, type: "MODE_CHANGE", mode: "LIVE" },
    ]);
  });
});

describe("risk officer: drawdown steps", () => {
  const config = configWith(NO_INTERVAL, ["risk_officer"]);

  test("each step fires at its threshold, not below; a jump goes straight to the step reached", () => {
    expect(summary(replay(config, snapshots("a", 0, 5, () => 5)).decisions)).toEqual([{ t: 10, type: "RISK_ADJUSTMENT", max_leverage: 3, max_exposure_pct: 200, max_position_size_usd: 2000 }]);
    expect(replay(config, snapshots("a", 0, 50, () => 4.99)).decisions).toEqual([]);
    expect(summary(replay(config, snapshots("a", 0, 3, () => 13)).decisions)).toEqual([{ t: 10, type: "RISK_ADJUSTMENT", max_leverage: 1, max_exposure_pct: 50, max_position_size_usd: 500 }]);
  });

  test("mean over the lookback with min_samples: one spike does not fire", () => {
    // 2, 2, 12: mean 5.33 over 3 samples fires step 1 only, not step 3.
    const values = [2, 2, 12];
    const { decisions } = replay(config, snapshots("a", 0, 3, (i) => values[i]!));
    expect(summary(decisions)).toEqual([{ t: 10, type: "RISK_ADJUSTMENT", max_leverage: 3, max_exposure_pct: 200, max_position_size_usd: 2000 }]);
  });

  test("relaxes one step at a time, each after its hold and a recovery below the step by the hysteresis", () => {
    const events = [...snapshots("a", 0, 3, () => 13), ...snapshots("a", 15, 500, () => 9.9)];
    // 9.9 < 12 - 2: step 3 back to step 2 after its hold; step 2 back needs below 8 - 2: never.
    expect(summary(replay(config, events).decisions)).toEqual([
      { t: 10, type: "RISK_ADJUSTMENT", max_leverage: 1, max_exposure_pct: 50, max_position_size_usd: 500 },
      { t: 615, type: "RISK_ADJUSTMENT", max_leverage: 2, max_exposure_pct: 100, max_position_size_usd: 1000 }, // the first time the 600 s window holds no sample of 13
    ]);
    const inBand = [...snapshots("a", 0, 3, () => 13), ...snapshots("a", 15, 500, () => 10)];
    expect(replay(config, inBand).decisions).toHaveLength(1); // 10 is not below 12 - 2

    const down = [...snapshots("a", 0, 3, () => 13), ...snapshots("a", 15, 800, () => 0)];
    expect(summary(replay(config, down).decisions).map((d) => [d.t, d.max_leverage])).toEqual([
      [10, 1],
      [615, 2],
      [1215, 3],
      [1815, null],
    ]);
  });
});

describe("capital allocator", () => {
  const config = configWith(NO_INTERVAL, ["capital_allocator"]);

  test("profile: MICRO at its drawdown (a high alert), SMALL below it, nothing below SMALL's; or on the day's loss", () => {
    const micro = replay(config, snapshots("a", 0, 3, () => 12));
    expect(summary(micro.decisions).filter((d) => d.type === "CAPITAL_PROFILE")).toEqual([{ t: 10, type: "CAPITAL_PROFILE", profile: "MICRO" }]);
    expect(micro.records.filter((r) => r.kind === "alert")).toEqual([expect.objectContaining({ alert: "capital_micro", severity: "high" })]);
    expect(summary(replay(config, snapshots("a", 0, 3, () => 11.99)).decisions).filter((d) => d.type === "CAPITAL_PROFILE")).toEqual([{ t: 10, type: "CAPITAL_PROFILE", profile: "SMALL" }]);
    expect(replay(config, snapshots("a", 0, 30, () => 5.99)).decisions.filter((d) => d.type === "CAPITAL_PROFILE")).toEqual([]);
    // A realised loss of 4% of equity today, at no drawdown.
    const loss = replay(config, snapshots("a", 0, 3, () => 0, 5, { realized_pnl_today: -400 }));
    expect(summary(loss.decisions)).toEqual([{ t: 10, type: "CAPITAL_PROFILE", profile: "MICRO" }]);
  });

  test("profile: up one step at a time after recovery and hold", () => {
    const events = [...snapshots("a", 0, 3, () => 12), ...snapshots("a", 15, 1500, () => 0)];
    expect(summary(replay(config, events).decisions).map((d) => [d.t, d.profile])).toEqual([
      [10, "MICRO"],
      [3610, "SMALL"],
      [7210, "MEDIUM"],
    ]);
  });

  test("cashflow: once realised PnL today stays above min_profit_usd over min_samples", () => {
    expect(summary(replay(config, snapshots("a", 0, 10, () => 0, 5, { realized_pnl_today: 0.01 })).decisions)).toEqual([
      { t: 10, type: "CASHFLOW", profit_lock_pct: 30, reinvest_pct: 70, reserve_buffer_pct: 10 },
    ]);
    expect(replay(config, snapshots("a", 0, 10, () => 0, 5, { realized_pnl_today: 0 })).decisions).toEqual([]);
  });
});

describe("ESS guard", () => {
  const config = configWith(NO_INTERVAL, ["ess_guard"]);
  const health = (from: number, count: number, state: "NOMINAL" | "CAUTION" | "WARNING", every = 60) => Array.from({ length: count }, (_, i) => healthEvent("a", s(from + i * every), state));

  test("sustained WARNING (min_samples reports, all of the lookback) puts the node in SHADOW and tightens its ESS thresholds; CAUTION only tightens", () => {
    expect(summary(replay(config, health(0, 3, "WARNING")).decisions)).toEqual([
      { t: 120, type: "ESS_POLICY", caution_threshold_pct: 3, warning_threshold_pct: 6, critical_threshold_pct: 10 },
      { t: 120, type: "MODE_CHANGE", mode: "SHADOW" },
    ]);
    expect(summary(replay(config, health(0, 3, "CAUTION")).decisions).map((d) => d.type)).toEqual(["ESS_POLICY"]);
    expect(replay(config, health(0, 2, "WARNING")).decisions).toEqual([]);
    // One NOMINAL report in the lookback: not sustained.
    expect(replay(config, [...health(0, 2, "WARNING"), healthEvent("a", s(130), "NOMINAL"), ...health(140, 2, "WARNING", 60)]).decisions).toEqual([]);
  });

  test("resumes after recovery and hold, only from the mode it set", () => {
    const events = [...health(0, 3, "WARNING"), ...health(180, 60, "NOMINAL")];
    expect(summary(replay(config, events).decisions).filter((d) => d.type === "MODE_CHANGE")).toEqual([
      { t: 120, type: "MODE_CHANGE", mode: "SHADOW" },
      { t: 1920, type: "MODE_CHANGE", mode: "LIVE" },
    ]);
  });
});

describe("strategy allocator", () => {
  // Fleet rules evaluate on ticks only here, so each test says when.
  const config = configWith({ engine: { min_interval_s: 0, evaluate_every_s: 100_000 } }, ["strategy_allocator"]);
  const reports = (model: string, n: number, fields: Parameters<typeof modelEvent>[3], from = 0) => Array.from({ length: n }, (_, i) => modelEvent("a", s(from + i * 10), model, fields));

  test("weights from the scores, the best at 1; a model below a floor gets 0; too few reports or trades: left out", () => {
    const events = [
      ...reports("Best", 3, { sharpe_ratio: 2, win_rate: 0.6, profit_factor: 2 }),
      ...reports("Half", 3, { sharpe_ratio: 1, win_rate: 0.4, profit_factor: 1.5 }),
      ...reports("Losing", 3, { sharpe_ratio: 0.5, win_rate: 0.5, profit_factor: 0.9 }),
      ...reports("Young", 2, { sharpe_ratio: 3 }),
      ...reports("Few", 3, { total_trades: 29 }),
      tick(s(100)),
    ];
    const { decisions } = replay(config, events);
    expect(decisions.map((d) => d.payload.model_weights)).toEqual([{ Best: 1, Half: 0.6, Losing: 0 }]);
    expect(decisions[0]!.reason).toContain("below a floor (sharpe 0, win_rate 0.35, profit_factor 1): Losing");
  });

  test("hysteresis: weights moving less than min_change are not sent again", () => {
    const base = [...reports("A", 3, { sharpe_ratio: 2, win_rate: 0.6, profit_factor: 2 }), ...reports("B", 3, { sharpe_ratio: 1, win_rate: 0.4, profit_factor: 1.5 }), tick(s(100))];
    const slight = [...reports("B", 3, { sharpe_ratio: 1.2, win_rate: 0.4, profit_factor: 1.5 }, 200), tick(s(300))];
    expect(replay(config, [...base, ...slight]).decisions).toHaveLength(1);
    const large = [...reports("B", 30, { sharpe_ratio: 2, win_rate: 0.6, profit_factor: 2 }, 200), tick(s(600))];
    expect(replay(config, [...base, ...large]).decisions.map((d) => d.payload.model_weights)).toEqual([{ A: 1, B: 0.6 }, { A: 1, B: 0.95 }]);
  });
});

describe("researcher", () => {
  const config = configWith(NO_INTERVAL, ["researcher"]);

  test("stale model: a task at max_days_since_training, not below, once per lock_s", () => {
    const at = (t: number, days: number) => [modelEvent("a", s(t), "Old", { days_since_training: days }), tick(s(t + 1))];
    expect(replay(config, at(0, 29.99)).decisions).toEqual([]);
    const { decisions } = replay(config, [...at(0, 30), ...at(3600, 30.1), ...at(86_400, 31)]);
    expect(decisions.map((d) => [(d.at - s(0)) / 1000, d.type, d.target, d.payload.task_type])).toEqual([
      [0, "RESEARCH_TASK", "a", "journal_stats"],
      [86_400, "RESEARCH_TASK", "a", "journal_stats"],
    ]);
  });

  test("performance decay: recent Sharpe decay_pct below the baseline", () => {
    const series = (sharpeRecent: number) => [
      ...[0, 1, 2].map((d) => modelEvent("a", s(d * 3600), "M", { sharpe_ratio: 2 })),
      ...[0, 1, 2].map((d) => modelEvent("a", s(7 * 86_400 + d * 3600), "M", { sharpe_ratio: sharpeRecent })),
      tick(s(7 * 86_400 + 3 * 3600)),
    ];
    expect(replay(config, series(1.4)).decisions.map((d) => d.rule)).toEqual(["performance_decay"]);
    expect(replay(config, series(1.41)).decisions).toEqual([]);
  });

  test("symbol guard: stoploss_count stop-losses in the lookback lock the symbol out for lock_s (StoplossGuard)", () => {
    const stops = (n: number, from: number) => Array.from({ length: n }, (_, i) => closeEvent(`n${i % 2}`, s(from + i * 60), "SOLUSDT", -10, "stop_loss"));
    const others = [closeEvent("a", s(0), "BTCUSDT", 5, "take_profit"), closeEvent("a", s(0), "ETHUSDT", 5, "take_profit")];
    expect(replay(config, [...others, ...stops(3, 10), tick(s(400))]).decisions).toEqual([]);
    // Stops at 10 and 3,700 are more than an hour apart: never four in one lookback.
    expect(replay(config, [...others, ...stops(3, 10), closeEvent("a", s(3700), "SOLUSDT", -10, "stop_loss"), tick(s(3701))]).decisions).toEqual([]);
    const { decisions } = replay(config, [...others, ...stops(4, 10), tick(s(400)), tick(s(4000)), tick(s(4200))]);
    expect(summary(decisions)).toEqual([
      { t: 190, type: "SYMBOL_UNIVERSE", active_symbols: ["BTCUSDT", "ETHUSDT"] }, // the fourth stop, at 190, evaluated at once (5 s since the last)
      { t: 4000, type: "SYMBOL_UNIVERSE", active_symbols: null }, // locked at 190 for 3,600 s
    ]);
  });

  test("symbol guard: low mean profit over min_trades closes (LowProfitPairs)", () => {
    const closes = (n: number, pnl: number) => Array.from({ length: n }, (_, i) => closeEvent("a", s(i * 60), "XRPUSDT", pnl, "manual"));
    expect(summary(replay(config, [...closes(6, -0.01), tick(s(400))]).decisions)).toEqual([{ t: 300, type: "SYMBOL_UNIVERSE", active_symbols: [] }]);
    expect(replay(config, [...closes(5, -0.01), tick(s(400))]).decisions).toEqual([]);
    expect(replay(config, [...closes(6, 0), tick(s(400))]).decisions).toEqual([]);
  });
});
