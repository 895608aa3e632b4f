// Tests for decisionEffect (decision-policy.ts): what each decision type does
// to a kernel policy, validated whole, with every violation listed.
import { describe, expect, test } from "bun:test";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy, type PolicyUpdate } from "../kernel/policy.ts";
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
  MODE_CHANGE: { payload: { mode: "PAUSED" }, effect: { kind: "policy", update: { mode: "PAUSED" } } },
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

  test("a reason is accepted by every type and never reaches the update", () => {
    for (const type of DECISION_TYPES) {
      const { payload, effect } = VALID[type];
      expect(decisionEffect(type, { ...payload, reason: "operator asked for it" }, ISSUED_AT)).toEqual(effect);
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

  test("FREEZE with only a reason is still an indefinite freeze", () => {
    expect(decisionEffect("FREEZE", { reason: "exchange outage" }, ISSUED_AT)).toEqual({ kind: "policy", update: { mode: "FREEZE" } });
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

  test("each other mode is a plain mode change", () => {
    for (const mode of ["LIVE", "SHADOW", "PAUSED", "EMERGENCY"] as const) {
      expect(decisionEffect("MODE_CHANGE", { mode }, ISSUED_AT)).toEqual({ kind: "policy", update: { mode } });
    }
  });

  test("MODE_CHANGE to PAUSED with a duration is invalid", () => {
    expect(decisionEffect("MODE_CHANGE", { mode: "PAUSED", duration_s: 5 }, ISSUED_AT)).toEqual({
      kind: "invalid",
      violations: ["duration_s: only valid with mode FREEZE"],
    });
  });

  test("a zero, negative, non-finite or non-numeric duration is invalid", () => {
    const message = "duration_s: must be a positive number of seconds, or absent for an indefinite freeze";
    for (const duration_s of [0, -60, Number.POSITIVE_INFINITY, Number.NaN, "60", null]) {
      expect(decisionEffect("FREEZE", { duration_s }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
      expect(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_s }, ISSUED_AT)).toEqual({ kind: "invalid", violations: [message] });
    }
  });
});

describe("decisionEffect: invalid payloads list every violation", () => {
  test("an empty payload is invalid for every policy type except FREEZE", () => {
    const expected: Partial<Record<DecisionType, string[]>> = {
      MODE_CHANGE: ["payload: MODE_CHANGE needs at least one of mode, duration_s, duration_minutes, from, until", "mode: required"],
      CAPITAL_PROFILE: ["payload: CAPITAL_PROFILE needs at least one of max_notional_usd, max_leverage, thresholds"],
      RISK_ADJUSTMENT: ["payload: RISK_ADJUSTMENT needs at least one of max_leverage, max_notional_usd, thresholds"],
      ESS_POLICY: ["payload: ESS_POLICY needs at least one of enforcement, thresholds"],
      STRATEGY_ALLOCATION: ["payload: STRATEGY_ALLOCATION needs at least one of model_weights"],
      SYMBOL_UNIVERSE: ["payload: SYMBOL_UNIVERSE needs at least one of active_symbols"],
      CASHFLOW: ["payload: CASHFLOW needs at least one of max_notional_usd"],
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
      violations: ["colour: not a field of RISK_ADJUSTMENT (max_leverage, max_notional_usd, thresholds)"],
    });
  });

  test("a field of another type is unknown here", () => {
    expect(violations(decisionEffect("CASHFLOW", { max_leverage: 2 }, ISSUED_AT))).toEqual([
      "max_leverage: not a field of CASHFLOW (max_notional_usd)",
    ]);
    expect(violations(decisionEffect("FREEZE", { mode: "LIVE" }, ISSUED_AT))).toEqual(["mode: not a field of FREEZE (duration_s)"]);
    expect(violations(decisionEffect("SYMBOL_UNIVERSE", { freeze_until: 5 }, ISSUED_AT))).toEqual([
      "freeze_until: not a field of SYMBOL_UNIVERSE (active_symbols)",
    ]);
  });

  test("duration_s outside a freeze is invalid, and MODE_CHANGE needs a mode", () => {
    expect(violations(decisionEffect("MODE_CHANGE", { duration_s: 60 }, ISSUED_AT))).toEqual([
      "duration_s: only valid with mode FREEZE",
      "mode: required",
    ]);
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
      "colour: not a field of RISK_ADJUSTMENT (max_leverage, max_notional_usd, thresholds)",
      "max_leverage: must be a positive number or null (off)",
      "max_notional_usd: must be a positive number or null (off)",
      "thresholds.EDGE_MULTIPLIER: -1 is negative",
      "thresholds.BOGUS_KEY: unknown gate variable",
    ]);
  });

  test("MODE_CHANGE to FREEZE with a bad duration and half a window lists every problem", () => {
    expect(violations(decisionEffect("MODE_CHANGE", { mode: "FREEZE", duration_s: -1, until: 5 }, ISSUED_AT))).toEqual([
      "from, until: a mode window needs both",
      "duration_s: only valid with mode FREEZE",
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
