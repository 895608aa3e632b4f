// Tests for decisionEffect (decision-policy.ts): what each decision type does
// to a kernel policy, validated whole, with every violation listed.
import { describe, expect, test } from "bun:test";
import { applyPolicyUpdate, DEFAULT_POLICY, modeAt, type KernelPolicy, type PolicyUpdate } from "../kernel/policy.ts";
import { decisionEffect, type DecisionEffect } from "./decision-policy.ts";
import { DECISION_TYPES, type DecisionType } from "./messages.ts";

const ISSUED_AT = 1_000_000;

/** The update of a policy effect; fails the test with the effect otherwise. */
function policyUpdate(effect: DecisionEffect): PolicyUpdate {
  if (effect.kind !== "policy") throw new Error(`expected a policy effect, got ${JSON.stringify(effect)}`);
  return effect.update;
}

/** The violations of an invalid effect. */
function violations(effect: DecisionEffect): string[] {
  if (effect.kind !== "invalid") throw new Error(`expected an invalid effect, got ${JSON.stringify(effect)}`);
  return effect.violations;
}

function applied(update: PolicyUpdate): KernelPolicy {
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) throw new Error(`update rejected: ${result.violations.join("; ")}`);
  return result.policy;
}

/** One valid payload per policy-changing type, with the exact update it must give. */
const VALID: Record<DecisionType, { payload: Record<string, unknown>; effect: DecisionEffect }> = {
  MODE_CHANGE: { payload: { mode: "PAUSED" }, effect: { kind: "policy", update: { mode: "PAUSED", windows_end_at: ISSUED_AT } } },
  CAPITAL_PROFILE: {
    payload: { max_notional_usd: 5000, max_leverage: 3, thresholds: { MIN_NOTIONAL_USD: 50 } },
    effect: { kind: "policy", update: { max_notional_usd: 5000, max_leverage: 3, thresholds: { MIN_NOTIONAL_USD: 50 } } },
  },
  RISK_ADJUSTMENT: {
    payload: { max_leverage: 2, max_notional_usd: 1000 },
    effect: { kind: "policy", update: { max_leverage: 2, max_notional_usd: 1000 } },
  },
  ESS_POLICY: {
    payload: { enforcement: "audit", thresholds: { EDGE_MULTIPLIER: 2.5 } },
    effect: { kind: "policy", update: { enforcement: "audit", thresholds: { EDGE_MULTIPLIER: 2.5 } } },
  },
  STRATEGY_ALLOCATION: {
    payload: { model_weights: { NHiTS: 0, XGBoost: 1, PatchTST: 0.25 } },
    effect: { kind: "policy", update: { model_weights: { NHiTS: 0, XGBoost: 1, PatchTST: 0.25 } } },
  },
  SYMBOL_UNIVERSE: {
    payload: { active_symbols: ["BTCUSDT", "ETH/USD"] },
    effect: { kind: "policy", update: { active_symbols: ["BTCUSDT", "ETH/USD"] } },
  },
  CASHFLOW: { payload: { max_notional_usd: 250 }, effect: { kind: "policy", update: { max_notional_usd: 250 } } },
  FREEZE: { payload: { duration_s: 60 }, effect: { kind: "policy", update: { mode: "FREEZE", freeze_until: 1_060_000 } } },
  RESEARCH_TASK: {
    payload: { task_type: "journal_stats", description: "funding drift", expected_impact: "fewer COOLDOWN holds", params: { window_minutes: 60 } },
    effect: { kind: "record" },
  },
  OVERRIDE: { payload: { reason: "wrong universe", overridden_decision_id: "dec_0123456789abcdef" }, effect: { kind: "record" } },
};

describe("decisionEffect: each decision type with a valid payload", () => {
  test("the table covers every DECISION_TYPE", () => {
    expect(Object.keys(VALID).sort()).toEqual([...DECISION_TYPES].sort());
  });

  for (const type of DECISION_TYPES) {
    test(`${type} gives its exact effect`, () => {
      const { payload, effect } = VALID[type];
      expect(decisionEffect(type, payload, ISSUED_AT)).toEqual(effect);
    });
  }

  test("a reason is accepted by every type, and reaches the update only as a freeze's reason", () => {
    for (const type of DECISION_TYPES) {
      const { payload, effect } = VALID[type];
      const expected: DecisionEffect = type === "FREEZE" ? { kind: "policy", update: { ...policyUpdate(effect), freeze_reason: "operator asked for it" } } : effect;
      expect(decisionEffect(type, { ...payload, reason: "operator asked for it" }, ISSUED_AT)).toEqual(expected);
    }
  });

  test("the payload is not changed", () => {
    const payload = { mode: "FREEZE", duration_s: 30, reason: "r" };
    decisionEffect("MODE_CHANGE", payload, ISSUED_AT);
    expect(payload).toEqual({ mode: "FREEZE", duration_s: 30, reason: "r" });
  });
});

describe("decisionEffect: FREEZE and MODE_CHANGE to FREEZE", () => {
  test("FREEZE with duration_s ends at issuedAt + duration", () => {
    expect(decisionEffect("FREEZE", { duration_s: 60 }, 1_000_000)).toEqual({
      kind: "policy",
      update: { mode: "FREEZE", freeze_until: 1_060_000 },
    });
  });

  test("FREEZE durations are rounded to whole milliseconds", () => {
    expect(policyUpdate(decisionEffect("FREEZE", { duration_s: 1.5 }, 1_000_000))).toEqual({ mode: "FREEZE", freeze_until: 1_001_500 });
    expect(policyUpdate(decisionEffect("FREEZE", { duration_s: 0.0016 }, 1_000_000))).toEqual({ mode: "FREEZE", freeze_until: 1_000_002 });
  });

  test("the freeze end depends on issuedAt, not on when it is computed", () => {
    const a = policyUpdate(decisionEffect("FREEZE", { duration_s: 10 }, 5_000_000));
    const b = policyUpdate(decisionEffect("FREEZE", { duration_s: 10 }, 5_000_000));
    expect(a.freeze_until).toBe(5_010_000);
    expect(b).toEqual(a);
  });

  test("FREEZE without a duration is indefinite: no freeze_until at all", () => {
    const update = policyUpdate(decisionEffect("FREEZE", {}, ISSUED_AT));
    expect(update).toEqual({ mode: "FREEZE" });
    expect("freeze_until" in update).toBe(false);
  });

  test("FREEZE with only a reason is still an indefinite freeze, the reason kept with it", () => {
    expect(decisionEffect("FREEZE", { reason: "exchange outage" }, ISSUED_AT)).toEqual({
      kind: "policy",
      update: { mode: "FREEZE", freeze_reason: "exchange outage" },
    });
  });

  test("MODE_CHANGE to FREEZE with duration_s ends at issuedAt + duration", () => {
    expect(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_s: 30 }, 2_000_000)).toEqual({
      kind: "policy",
      update: { mode: "FREEZE", freeze_until: 2_030_000 },
    });
  });

  test("MODE_CHANGE to FREEZE without duration is indefinite", () => {
    const update = policyUpdate(decisionEffect("MODE_CHANGE", { mode: "FREEZE" }, ISSUED_AT));
    expect(update).toEqual({ mode: "FREEZE" });
    expect("freeze_until" in update).toBe(false);
  });

  test("each other mode is a change of the base mode from issuedAt on, ending windows in force then", () => {
    for (const mode of ["LIVE", "SHADOW", "PAUSED", "EMERGENCY"] as const) {
      expect(decisionEffect("MODE_CHANGE", { mode }, ISSUED_AT)).toEqual({ kind: "policy", update: { mode, windows_end_at: ISSUED_AT } });
    }
  });

  test("MODE_CHANGE to PAUSED with duration_s (the older name) is a window from issuedAt", () => {
    expect(decisionEffect("MODE_CHANGE", { mode: "PAUSED", duration_s: 5 }, ISSUED_AT)).toEqual({
      kind: "policy",
      update: { mode_window: { mode: "PAUSED", from: ISSUED_AT, until: ISSUED_AT + 5000 } },
    });
  });

  test("a zero, negative, non-finite or non-numeric duration_s is invalid", () => {
    const message = "duration_s: must be a positive number of seconds, or absent for no end";
    for (const duration_s of [0, -60, Number.POSITIVE_INFINITY, Number.NaN, "60", null]) {
      expect(decisionEffect("FREEZE", { duration_s }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
      expect(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_s }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    }
  });
});

describe("decisionEffect: invalid payloads list every violation", () => {
  test("an empty payload is invalid for every policy type except FREEZE", () => {
    const expected: Partial<Record<DecisionType, string[]>> = {
      MODE_CHANGE: ["payload: MODE_CHANGE needs at least one of mode, duration_minutes, duration_s, from, until", "mode: required"],
      CAPITAL_PROFILE: [
        "payload: CAPITAL_PROFILE needs at least one of profile, max_risk_per_trade_pct, max_daily_risk_pct, max_positions, max_notional_usd, max_leverage, thresholds",
      ],
      RISK_ADJUSTMENT: [
        "payload: RISK_ADJUSTMENT needs at least one of max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier, max_notional_usd, thresholds",
      ],
      ESS_POLICY: ["payload: ESS_POLICY needs at least one of caution_threshold_pct, warning_threshold_pct, critical_threshold_pct, enforcement, thresholds"],
      STRATEGY_ALLOCATION: ["payload: STRATEGY_ALLOCATION needs at least one of model_weights"],
      SYMBOL_UNIVERSE: ["payload: SYMBOL_UNIVERSE needs at least one of active_symbols"],
      CASHFLOW: ["payload: CASHFLOW needs at least one of profit_lock_pct, reinvest_pct, reserve_buffer_pct, max_notional_usd"],
    };
    for (const [type, list] of Object.entries(expected) as [DecisionType, string[]][]) {
      expect(decisionEffect(type, {}, ISSUED_AT)).toEqual({ kind: "invalid", violations: list });
      // A reason alone does not count as content.
      expect(decisionEffect(type, { reason: "why" }, ISSUED_AT)).toEqual({ kind: "invalid", violations: list });
    }
  });

  test("an unknown field is named with the fields the type accepts", () => {
    expect(decisionEffect("RISK_ADJUSTMENT", { max_leverage: 3, colour: "red" }, ISSUED_AT)).toEqual({
      kind: "invalid",
      violations: ["colour: not a field of RISK_ADJUSTMENT (max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier, max_notional_usd, thresholds)"],
    });
  });

  test("a field of another type is unknown here", () => {
    expect(violations(decisionEffect("CASHFLOW", { max_leverage: 2 }, ISSUED_AT))).toEqual([
      "max_leverage: not a field of CASHFLOW (profit_lock_pct, reinvest_pct, reserve_buffer_pct, max_notional_usd)",
    ]);
    expect(violations(decisionEffect("FREEZE", { mode: "LIVE" }, ISSUED_AT))).toEqual(["mode: not a field of FREEZE (duration_minutes, severity, duration_s)"]);
    expect(violations(decisionEffect("SYMBOL_UNIVERSE", { freeze_until: 5 }, ISSUED_AT))).toEqual([
      "freeze_until: not a field of SYMBOL_UNIVERSE (active_symbols)",
    ]);
  });

  test("MODE_CHANGE needs a mode, also with a duration", () => {
    expect(violations(decisionEffect("MODE_CHANGE", { duration_s: 60 }, ISSUED_AT))).toEqual(["mode: required"]);
    expect(violations(decisionEffect("MODE_CHANGE", { duration_minutes: 60 }, ISSUED_AT))).toEqual(["mode: required"]);
  });

  test("an unknown mode is invalid", () => {
    expect(violations(decisionEffect("MODE_CHANGE", { mode: "TURBO" }, ISSUED_AT))).toEqual([
      "mode: must be one of LIVE, SHADOW, PAUSED, EMERGENCY, FREEZE",
    ]);
  });

  test("negative or zero leverage and notional are invalid", () => {
    expect(violations(decisionEffect("RISK_ADJUSTMENT", { max_leverage: -2 }, ISSUED_AT))).toEqual([
      "max_leverage: must be a positive number or null (off)",
    ]);
    expect(violations(decisionEffect("CASHFLOW", { max_notional_usd: 0 }, ISSUED_AT))).toEqual([
      "max_notional_usd: must be a positive number or null (off)",
    ]);
    expect(violations(decisionEffect("CAPITAL_PROFILE", { max_leverage: "3" }, ISSUED_AT))).toEqual([
      "max_leverage: must be a positive number or null (off)",
    ]);
  });

  test("null switches a limit off and is valid", () => {
    expect(decisionEffect("RISK_ADJUSTMENT", { max_leverage: null }, ISSUED_AT)).toEqual({ kind: "policy", update: { max_leverage: null } });
  });

  test("bad symbols are named by index", () => {
    expect(violations(decisionEffect("SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT", "bad symbol!", 7] }, ISSUED_AT))).toEqual([
      "active_symbols[1]: not a symbol",
      "active_symbols[2]: not a symbol",
    ]);
    expect(violations(decisionEffect("SYMBOL_UNIVERSE", { active_symbols: "BTCUSDT" }, ISSUED_AT))).toEqual([
      "active_symbols: must be a list of symbols or null (all)",
    ]);
  });

  test("weights above 1 or below 0 are invalid, each named", () => {
    expect(violations(decisionEffect("STRATEGY_ALLOCATION", { model_weights: { NHiTS: 1.5, XGBoost: 0.5, PatchTST: -0.1 } }, ISSUED_AT))).toEqual([
      "model_weights.NHiTS: must be a number from 0 to 1",
      "model_weights.PatchTST: must be a number from 0 to 1",
    ]);
  });

  test("unknown threshold keys and bad threshold values are invalid", () => {
    expect(violations(decisionEffect("ESS_POLICY", { thresholds: { BOGUS_KEY: 1 } }, ISSUED_AT))).toEqual([
      "thresholds.BOGUS_KEY: unknown gate variable",
    ]);
    expect(violations(decisionEffect("ESS_POLICY", { thresholds: { MIN_NOTIONAL: 10 } }, ISSUED_AT))).toEqual([
      "thresholds.MIN_NOTIONAL: unknown gate variable (did you mean MIN_NOTIONAL_USD?)",
    ]);
    expect(violations(decisionEffect("RISK_ADJUSTMENT", { thresholds: { MAX_TRADES_10MIN: 2.5 } }, ISSUED_AT))).toEqual([
      "thresholds.MAX_TRADES_10MIN: 2.5 is not a whole number",
    ]);
  });

  test("an unknown enforcement is invalid", () => {
    expect(violations(decisionEffect("ESS_POLICY", { enforcement: "lenient" }, ISSUED_AT))).toEqual([
      "enforcement: must be one of enforce, audit",
    ]);
  });

  test("a non-string or too long reason is invalid, for policy and record types alike", () => {
    const message = "reason: must be text of at most 512 characters";
    const override = VALID.OVERRIDE.payload;
    expect(decisionEffect("RESEARCH_TASK", { ...VALID.RESEARCH_TASK.payload, reason: 42 }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    expect(decisionEffect("OVERRIDE", { ...override, reason: "x".repeat(513) }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    expect(decisionEffect("OVERRIDE", { ...override, reason: null }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    expect(decisionEffect("FREEZE", { reason: ["a"] }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    // 512 characters is the limit, not past it.
    expect(decisionEffect("OVERRIDE", { ...override, reason: "x".repeat(512) }, ISSUED_AT)).toEqual({ kind: "record" });
    expect(decisionEffect("CASHFLOW", { max_notional_usd: 10, reason: "x".repeat(512) }, ISSUED_AT)).toEqual({
      kind: "policy",
      update: { max_notional_usd: 10 },
    });
  });

  test("RESEARCH_TASK and OVERRIDE without their contract's fields are invalid, naming them (override-and-research.test.ts has the rest)", () => {
    expect(violations(decisionEffect("RESEARCH_TASK", {}, ISSUED_AT)).map((v) => v.split(":")[0])).toEqual(["task_type", "description"]);
    expect(violations(decisionEffect("OVERRIDE", {}, ISSUED_AT)).map((v) => v.split(":")[0])).toEqual(["reason", "overridden_decision_id"]);
  });

  test("every violation of one payload is listed, none stops the others", () => {
    const effect = decisionEffect(
      "RISK_ADJUSTMENT",
      {
        reason: 7,
        colour: "red",
        max_leverage: -1,
        max_notional_usd: 0,
        thresholds: { EDGE_MULTIPLIER: -1, BOGUS_KEY: 1 },
      },
      ISSUED_AT,
    );
    expect(violations(effect)).toEqual([
      "reason: must be text of at most 512 characters",
      "colour: not a field of RISK_ADJUSTMENT (max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier, max_notional_usd, thresholds)",
      "max_leverage: must be a positive number or null (off)",
      "max_notional_usd: must be a positive number or null (off)",
      "thresholds.EDGE_MULTIPLIER: -1 is negative",
      "thresholds.BOGUS_KEY: unknown gate variable",
    ]);
  });

  test("MODE_CHANGE to FREEZE with a bad duration and half a window lists every problem", () => {
    expect(violations(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_s: -1, until: 5 }, ISSUED_AT))).toEqual([
      "duration_s: must be a positive number of seconds, or absent for no end",
      "from, until: a mode window needs both",
      "mode_window.mode: must be LIVE, SHADOW, PAUSED or EMERGENCY",
      "mode_window: from and until must be times in ms since the epoch",
    ]);
  });
});

describe("decisionEffect updates applied to DEFAULT_POLICY", () => {
  test("a timed FREEZE freezes until issuedAt + duration and keeps the base mode", () => {
    const policy = applied(policyUpdate(decisionEffect("FREEZE", { duration_s: 60 }, 1_000_000)));
    expect(policy).toEqual({ ...DEFAULT_POLICY, mode: "LIVE", freeze: { until: 1_060_000 } });
  });

  test("an indefinite FREEZE freezes until unfrozen", () => {
    const policy = applied(policyUpdate(decisionEffect("MODE_CHANGE", { mode: "FREEZE" }, ISSUED_AT)));
    expect(policy).toEqual({ ...DEFAULT_POLICY, freeze: { until: null } });
  });

  test("MODE_CHANGE to PAUSED sets the base mode and no freeze", () => {
    const policy = applied(policyUpdate(decisionEffect("MODE_CHANGE", { mode: "PAUSED" }, ISSUED_AT)));
    expect(policy).toEqual({ ...DEFAULT_POLICY, mode: "PAUSED", freeze: null });
  });

  test("SYMBOL_UNIVERSE keeps each symbol once", () => {
    const policy = applied(policyUpdate(decisionEffect("SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT", "ETHUSDT", "BTCUSDT"] }, ISSUED_AT)));
    expect(policy.active_symbols).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(policy).toEqual({ ...DEFAULT_POLICY, active_symbols: ["BTCUSDT", "ETHUSDT"] });
  });

  test("CAPITAL_PROFILE sets limits and typed threshold overrides", () => {
    const update = policyUpdate(
      decisionEffect(
        "CAPITAL_PROFILE",
        { max_notional_usd: 5000, max_leverage: 3, thresholds: { MIN_NOTIONAL_USD: 50, ALLOWED_MODELS_TREND: ["NHiTS"] } },
        ISSUED_AT,
      ),
    );
    expect(applied(update)).toEqual({
      ...DEFAULT_POLICY,
      max_notional_usd: 5000,
      max_leverage: 3,
      thresholds: { MIN_NOTIONAL_USD: 50, ALLOWED_MODELS_TREND: ["NHiTS"] },
    });
  });

  test("ESS_POLICY switches enforcement to audit", () => {
    const policy = applied(policyUpdate(decisionEffect("ESS_POLICY", { enforcement: "audit" }, ISSUED_AT)));
    expect(policy).toEqual({ ...DEFAULT_POLICY, enforcement: "audit" });
  });

  test("STRATEGY_ALLOCATION sets the model weights", () => {
    const policy = applied(policyUpdate(decisionEffect("STRATEGY_ALLOCATION", { model_weights: { NHiTS: 0, XGBoost: 0.5 } }, ISSUED_AT)));
    expect(policy).toEqual({ ...DEFAULT_POLICY, model_weights: { NHiTS: 0, XGBoost: 0.5 } });
  });
});

describe("decisionEffect: MODE_CHANGE windows", () => {
  test("mode with from and until is a mode window, not a change of the base mode", () => {
    expect(decisionEffect("MODE_CHANGE", { mode: "PAUSED", from: 1_000, until: 2_000, reason: "maintenance" }, ISSUED_AT)).toEqual({
      kind: "policy",
      update: { mode_window: { mode: "PAUSED", from: 1_000, until: 2_000 } },
    });
  });
});

/** Folds decisions into a policy in order, as the hub and the agent do. */
function fold(decisions: [DecisionType, Record<string, unknown>, number][], start: KernelPolicy = DEFAULT_POLICY): KernelPolicy {
  let policy = start;
  for (const [type, payload, issuedAt] of decisions) {
    const result = applyPolicyUpdate(policy, policyUpdate(decisionEffect(type, payload, issuedAt)));
    if (!result.ok) throw new Error(result.violations.join("; "));
    policy = result.policy;
  }
  return policy;
}

const MINUTE = 60_000;
const T = 1_764_000_000_000;

describe("decisionEffect: the federation contract's payloads (issue 11)", () => {
  test("MODE_CHANGE {mode, duration_minutes}: that mode from issuedAt, then the one before comes back", () => {
    const policy = fold([
      ["MODE_CHANGE", { mode: "PAUSED" }, T - MINUTE],
      ["MODE_CHANGE", { mode: "EMERGENCY", duration_minutes: 30, reason: "exchange incident" }, T],
    ]);
    expect(policy.windows).toEqual([{ mode: "EMERGENCY", from: T, until: T + 30 * MINUTE }]);
    expect(modeAt(policy, T - 1)).toBe("PAUSED");
    expect(modeAt(policy, T)).toBe("EMERGENCY");
    expect(modeAt(policy, T + 30 * MINUTE - 1)).toBe("EMERGENCY");
    expect(modeAt(policy, T + 30 * MINUTE)).toBe("PAUSED"); // reverted, by intent time
  });

  test("a MODE_CHANGE without duration ends a timed one in force, and leaves a window still to come", () => {
    const policy = fold([
      ["MODE_CHANGE", { mode: "SHADOW", from: T + 60 * MINUTE, until: T + 90 * MINUTE }, T - MINUTE],
      ["MODE_CHANGE", { mode: "EMERGENCY", duration_minutes: 30 }, T],
      ["MODE_CHANGE", { mode: "LIVE" }, T + 5 * MINUTE],
    ]);
    expect(modeAt(policy, T + 5 * MINUTE - 1)).toBe("EMERGENCY"); // earlier intents are judged as they were
    expect(modeAt(policy, T + 5 * MINUTE)).toBe("LIVE");
    expect(modeAt(policy, T + 60 * MINUTE)).toBe("SHADOW");
  });

  test("duration_minutes 0 is no duration; duration_minutes with duration_s, or negative, is refused", () => {
    expect(policyUpdate(decisionEffect("MODE_CHANGE", { mode: "PAUSED", duration_minutes: 0 }, T))).toEqual({ mode: "PAUSED", windows_end_at: T });
    expect(violations(decisionEffect("MODE_CHANGE", { mode: "PAUSED", duration_minutes: 1, duration_s: 60 }, T))).toEqual([
      "duration_minutes, duration_s: give one (duration_s is the older name, in seconds)",
    ]);
    for (const duration_minutes of [-1, Number.NaN, "5", null]) {
      expect(violations(decisionEffect("MODE_CHANGE", { mode: "PAUSED", duration_minutes }, T))).toEqual([
        "duration_minutes: must be a number of minutes, 0 or more (0 or absent: no end)",
      ]);
    }
  });

  test("MODE_CHANGE to FREEZE with duration_minutes freezes until then", () => {
    expect(policyUpdate(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_minutes: 10 }, T))).toEqual({ mode: "FREEZE", freeze_until: T + 10 * MINUTE });
  });

  test("FREEZE {duration_minutes, reason, severity}: the freeze keeps its severity and reason", () => {
    const policy = fold([["FREEZE", { duration_minutes: 15, reason: "funding spike", severity: "HIGH" }, T]]);
    expect(policy.freeze).toEqual({ until: T + 15 * MINUTE, severity: "HIGH", reason: "funding spike" });
    expect(fold([["FREEZE", { duration_minutes: 0, severity: "CRITICAL" }, T]]).freeze).toEqual({ until: null, severity: "CRITICAL" });
    expect(violations(decisionEffect("FREEZE", { severity: "SEVERE" }, T))).toEqual(["severity: must be one of LOW, MEDIUM, HIGH, CRITICAL"]);
  });

  test("CAPITAL_PROFILE {profile, max_risk_per_trade_pct, max_daily_risk_pct, max_positions}", () => {
    const payload = { profile: "SMALL", max_risk_per_trade_pct: 1, max_daily_risk_pct: 3, max_positions: 4, reason: "scaling up" };
    expect(policyUpdate(decisionEffect("CAPITAL_PROFILE", payload, T))).toEqual({
      capital: { profile: "SMALL", max_risk_per_trade_pct: 1, max_daily_risk_pct: 3, max_positions: 4 },
    });
    // A new profile starts from its own defaults; a payload without one tunes the profile in force.
    const policy = fold([
      ["CAPITAL_PROFILE", payload, T],
      ["CAPITAL_PROFILE", { profile: "LARGE" }, T + 1],
      ["CAPITAL_PROFILE", { max_positions: null }, T + 2],
    ]);
    expect(policy.capital).toEqual({ profile: "LARGE", max_positions: null });
    expect(violations(decisionEffect("CAPITAL_PROFILE", { profile: "HUGE", max_positions: 2.5, max_risk_per_trade_pct: 0 }, T))).toEqual([
      "profile: must be one of MICRO, SMALL, MEDIUM, LARGE",
      "max_risk_per_trade_pct: must be a percentage above 0 and at most 100, or null (off)",
      "max_positions: must be a whole number, 0 or more, or null (off)",
    ]);
  });

  test("RISK_ADJUSTMENT {max_leverage, max_position_size_usd, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier}", () => {
    const payload = { max_leverage: 3, max_position_size_usd: 2000, max_drawdown_pct: 12, max_exposure_pct: 150, stop_loss_multiplier: 1.5 };
    expect(policyUpdate(decisionEffect("RISK_ADJUSTMENT", payload, T))).toEqual({
      max_leverage: 3,
      max_notional_usd: 2000,
      max_drawdown_pct: 12,
      max_exposure_pct: 150,
      stop_loss_multiplier: 1.5,
    });
    expect(violations(decisionEffect("RISK_ADJUSTMENT", { max_position_size_usd: 1, max_notional_usd: 1 }, T))).toEqual([
      "max_position_size_usd, max_notional_usd: give one (max_notional_usd is the older name)",
    ]);
    expect(violations(decisionEffect("RISK_ADJUSTMENT", { stop_loss_multiplier: 0.5, max_drawdown_pct: 101, max_exposure_pct: 0 }, T))).toEqual([
      "max_drawdown_pct: must be a percentage above 0 and at most 100, or null (off)",
      "max_exposure_pct: must be a positive percentage, or null (off)",
      "stop_loss_multiplier: must be a number from 1 to 100, or null (1)",
    ]);
  });

  test("ESS_POLICY {caution, warning, critical thresholds} with enforcement as its own field", () => {
    const payload = { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15, enforcement: "enforce" };
    expect(fold([["ESS_POLICY", payload, T]])).toMatchObject({
      ess: { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 },
      enforcement: "enforce",
    });
    expect(violations(decisionEffect("ESS_POLICY", { caution_threshold_pct: 10, warning_threshold_pct: 5 }, T))).toEqual([
      "warning_threshold_pct: must be at least caution_threshold_pct (10)",
    ]);
    // Thresholds given later change only themselves.
    expect(fold([["ESS_POLICY", payload, T], ["ESS_POLICY", { critical_threshold_pct: 20 }, T + 1]]).ess).toEqual({
      caution_threshold_pct: 5,
      warning_threshold_pct: 10,
      critical_threshold_pct: 20,
    });
  });

  test("STRATEGY_ALLOCATION: the weights' form always, their names when the hub knows what the targets allow", () => {
    const payload = { model_weights: { NHiTS: 0.5, NHITS: 0 } };
    expect(decisionEffect("STRATEGY_ALLOCATION", payload, T).kind).toBe("policy");
    const targets = { allowed: new Set(["NHiTS", "PatchTST", "XGBoost", "LightGBM"]), of: "node pi-01" };
    expect(violations(decisionEffect("STRATEGY_ALLOCATION", payload, T, targets))).toEqual([
      "model_weights.NHITS: not in the allow tables (ALLOWED_MODELS_*) of node pi-01",
    ]);
    expect(decisionEffect("STRATEGY_ALLOCATION", { model_weights: { NHiTS: 0.5 } }, T, targets).kind).toBe("policy");
    // Only a STRATEGY_ALLOCATION's names are checked.
    expect(decisionEffect("SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] }, T, { allowed: new Set(), of: "node pi-01" }).kind).toBe("policy");
  });

  test("CASHFLOW {profit_lock_pct, reinvest_pct, reserve_buffer_pct}: counted from the first one's issuedAt", () => {
    const policy = fold([
      ["CASHFLOW", { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 10 }, T],
      ["CASHFLOW", { profit_lock_pct: 30, reinvest_pct: 70 }, T + 1000],
    ]);
    expect(policy.cashflow).toEqual({ profit_lock_pct: 30, reinvest_pct: 70, reserve_buffer_pct: 0, since: T });
    expect(violations(decisionEffect("CASHFLOW", { profit_lock_pct: 40, reinvest_pct: 50 }, T))).toEqual(["profit_lock_pct + reinvest_pct: must be 100 (is 90)"]);
    expect(violations(decisionEffect("CASHFLOW", { profit_lock_pct: 100 }, T))).toEqual([
      "reinvest_pct: required (profit_lock_pct + reinvest_pct = 100)",
    ]);
    expect(violations(decisionEffect("CASHFLOW", { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 100 }, T))).toEqual([
      "reserve_buffer_pct: must be below 100 (a reserve of all equity leaves nothing to trade)",
    ]);
    // 33.3 + 66.7 is 100 in decimal, a hair off in binary.
    expect(decisionEffect("CASHFLOW", { profit_lock_pct: 33.3, reinvest_pct: 66.7 }, T).kind).toBe("policy");
  });
});
