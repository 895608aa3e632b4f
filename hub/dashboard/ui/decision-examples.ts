// What the decision form starts from for each of the ten types: a valid
// payload in the contract's fields, and a line naming every field it takes
// (docs/hub.md, "Decisions"). test/dashboard-decision-examples.e2e.test.ts checks
// each against the hub's own validation (a dry run), so they cannot drift.
export const DECISION_EXAMPLES: Record<string, { payload: Record<string, unknown>; fields: string }> = {
  MODE_CHANGE: {
    payload: { mode: "PAUSED", duration_minutes: 30, reason: "maintenance" },
    fields: "mode (LIVE, SHADOW, PAUSED, EMERGENCY, FREEZE), duration_minutes? (0 or absent: no end), reason?",
  },
  FREEZE: { payload: { severity: "HIGH", reason: "operator freeze" }, fields: "duration_minutes? (0 or absent: until unfrozen), severity? (LOW, MEDIUM, HIGH, CRITICAL), reason?" },
  CAPITAL_PROFILE: {
    payload: { profile: "SMALL", max_positions: 3 },
    fields: "profile (MICRO, SMALL, MEDIUM, LARGE or null), max_risk_per_trade_pct, max_daily_risk_pct, max_positions",
  },
  RISK_ADJUSTMENT: {
    payload: { max_leverage: 2, max_position_size_usd: 1000 },
    fields: "max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier (1 to 100)",
  },
  ESS_POLICY: {
    payload: { caution_threshold_pct: 3, warning_threshold_pct: 6, critical_threshold_pct: 10, enforcement: "enforce" },
    fields: "caution_threshold_pct, warning_threshold_pct, critical_threshold_pct (rising, at most 100), enforcement (enforce or audit)",
  },
  STRATEGY_ALLOCATION: { payload: { model_weights: { XGBoost: 1 } }, fields: "model_weights (model -> 0 to 1; replaces the weights before it whole)" },
  SYMBOL_UNIVERSE: { payload: { active_symbols: ["BTCUSDT"] }, fields: "active_symbols (null: all)" },
  CASHFLOW: { payload: { profit_lock_pct: 20, reinvest_pct: 80 }, fields: "profit_lock_pct, reinvest_pct (adding up to 100), reserve_buffer_pct? (below 100)" },
  RESEARCH_TASK: {
    payload: { task_type: "journal_stats", description: "why this task", expected_impact: "what it may change", params: { window_minutes: 60 } },
    fields: "task_type (a handler on the node), description, expected_impact?, params? (at most 1 KiB of JSON)",
  },
  OVERRIDE: { payload: { reason: "why", overridden_decision_id: "dec_..." }, fields: "reason, overridden_decision_id (the decision whose policy effect it reverses)" },
};
