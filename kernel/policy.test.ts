// Tests for the kernel policy (policy.ts): validating hub updates whole,
// the mode in force at a moment, and the effective gate config.
import { describe, expect, test } from "bun:test";
import { DEFAULT_CONFIG, type GateConfig } from "./config.ts";
import {
  DEFAULT_POLICY,
  applyPolicyUpdate,
  effectiveConfig,
  modeAt,
  type KernelPolicy,
  type PolicyResult,
} from "./policy.ts";

const UNTIL = 1_700_000_600_000;
const MODE_LIST = "LIVE, SHADOW, PAUSED, EMERGENCY, FREEZE";

/** Every account limit off: stated here, not taken from NO_ACCOUNT_LIMITS in policy-limits.ts, so the tests check it. */
const ACCOUNT_LIMITS_OFF = {
  capital: null,
  max_drawdown_pct: null,
  max_exposure_pct: null,
  stop_loss_multiplier: null,
  ess: null,
  cashflow: null,
};

function basePolicy(overrides: Partial<KernelPolicy> = {}): KernelPolicy {
  return { ...(structuredClone({ ...DEFAULT_POLICY }) as KernelPolicy), ...overrides };
}

function fileConfig(): GateConfig {
  return structuredClone({ ...DEFAULT_CONFIG }) as GateConfig;
}

/** The policy of an accepted update; fails the test with the violations otherwise. */
function accepted(result: PolicyResult): KernelPolicy {
  if (!result.ok) throw new Error(`update rejected: ${result.violations.join("; ")}`);
  return result.policy;
}

/** The violations of a rejected update; a rejected result carries no policy. */
function rejected(result: PolicyResult): string[] {
  expect(result.ok).toBe(false);
  expect("policy" in result).toBe(false);
  return result.ok ? [] : result.violations;
}

describe("DEFAULT_POLICY", () => {
  test("is LIVE, enforcing, unfrozen, with no limits and no overrides", () => {
    expect(DEFAULT_POLICY).toEqual({
      mode: "LIVE",
      freeze: null,
      enforcement: "enforce",
      max_leverage: null,
      max_notional_usd: null,
      active_symbols: null,
      model_weights: null,
      thresholds: {},
      windows: [],
      ...ACCOUNT_LIMITS_OFF,
    });
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
  });

  test("an empty update is accepted and gives an equal but new policy", () => {
    const current = basePolicy();
    const policy = accepted(applyPolicyUpdate(current, {}));
    expect(policy).toEqual(basePolicy());
    expect(policy).not.toBe(current);
  });
});

describe("applyPolicyUpdate: each valid field applies", () => {
  test.each(["LIVE", "SHADOW", "PAUSED", "EMERGENCY"] as const)("mode %s", (mode) => {
    const current = basePolicy({ mode: mode === "LIVE" ? "SHADOW" : "LIVE" });
    const policy = accepted(applyPolicyUpdate(current, { mode }));
    expect(policy).toEqual(basePolicy({ mode }));
  });

  test.each(["enforce", "audit"] as const)("enforcement %s", (enforcement) => {
    const current = basePolicy({ enforcement: enforcement === "audit" ? "enforce" : "audit" });
    expect(accepted(applyPolicyUpdate(current, { enforcement }))).toEqual(basePolicy({ enforcement }));
  });

  test("max_leverage and max_notional_usd take positive numbers, fractions included", () => {
    const policy = accepted(applyPolicyUpdate(basePolicy(), { max_leverage: 2.5, max_notional_usd: 1000 }));
    expect(policy).toEqual(basePolicy({ max_leverage: 2.5, max_notional_usd: 1000 }));
    const tiny = accepted(applyPolicyUpdate(basePolicy(), { max_notional_usd: 0.01 }));
    expect(tiny.max_notional_usd).toBe(0.01);
  });

  test("null switches a risk limit off; the other limit stays", () => {
    const current = basePolicy({ max_leverage: 3, max_notional_usd: 500 });
    expect(accepted(applyPolicyUpdate(current, { max_leverage: null }))).toEqual(
      basePolicy({ max_leverage: null, max_notional_usd: 500 }),
    );
    expect(accepted(applyPolicyUpdate(current, { max_notional_usd: null }))).toEqual(
      basePolicy({ max_leverage: 3, max_notional_usd: null }),
    );
  });

  test("active_symbols takes symbols (deduplicated, first-seen order) or null for all", () => {
    const symbols = ["BTCUSDT", "ETH-USD", "BTC/USDT:USDT", "sol.perp", "BTCUSDT", "A".repeat(32)];
    const policy = accepted(applyPolicyUpdate(basePolicy(), { active_symbols: symbols }));
    expect(policy.active_symbols).toEqual(["BTCUSDT", "ETH-USD", "BTC/USDT:USDT", "sol.perp", "A".repeat(32)]);
    expect(policy.active_symbols).not.toBe(symbols);
    const all = accepted(applyPolicyUpdate(basePolicy({ active_symbols: ["BTCUSDT"] }), { active_symbols: null }));
    expect(all.active_symbols).toBeNull();
  });

  test("model_weights takes weights from 0 to 1 inclusive (a copy), or null", () => {
    const weights = { NHiTS: 0.5, XGBoost: 0, PatchTST: 1 };
    const policy = accepted(applyPolicyUpdate(basePolicy(), { model_weights: weights }));
    expect(policy.model_weights).toEqual({ NHiTS: 0.5, XGBoost: 0, PatchTST: 1 });
    expect(policy.model_weights).not.toBe(weights);
    weights.NHiTS = 0.9; // later changes to the update do not reach the policy
    expect(policy.model_weights).toEqual({ NHiTS: 0.5, XGBoost: 0, PatchTST: 1 });
    const off = accepted(applyPolicyUpdate(basePolicy({ model_weights: { NHiTS: 1 } }), { model_weights: null }));
    expect(off.model_weights).toBeNull();
    const empty = accepted(applyPolicyUpdate(basePolicy(), { model_weights: {} }));
    expect(empty.model_weights).toEqual({});
  });

  test("model_weights replaces the previous weights rather than merging", () => {
    const current = basePolicy({ model_weights: { NHiTS: 1, XGBoost: 0.5 } });
    const policy = accepted(applyPolicyUpdate(current, { model_weights: { PatchTST: 0.2 } }));
    expect(policy.model_weights).toEqual({ PatchTST: 0.2 });
  });

  test("thresholds apply typed or from strings", () => {
    const policy = accepted(
      applyPolicyUpdate(basePolicy(), {
        thresholds: { MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: "2.5", ALLOWED_MODELS_TREND: "NHiTS, TFT", MAX_TRADES_10MIN: 5 },
      }),
    );
    expect(policy.thresholds).toEqual({
      MIN_NOTIONAL_USD: 50,
      EDGE_MULTIPLIER: 2.5,
      ALLOWED_MODELS_TREND: ["NHiTS", "TFT"],
      MAX_TRADES_10MIN: 5,
    });
  });

  test("several valid fields in one update all apply together", () => {
    const policy = accepted(
      applyPolicyUpdate(basePolicy(), {
        mode: "SHADOW",
        enforcement: "audit",
        max_leverage: 5,
        max_notional_usd: 250,
        active_symbols: ["BTCUSDT"],
        model_weights: { XGBoost: 0.3 },
        thresholds: { MIN_R_TREND: 3 },
      }),
    );
    expect(policy).toEqual({
      mode: "SHADOW",
      freeze: null,
      enforcement: "audit",
      max_leverage: 5,
      max_notional_usd: 250,
      active_symbols: ["BTCUSDT"],
      model_weights: { XGBoost: 0.3 },
      thresholds: { MIN_R_TREND: 3 },
      windows: [],
      ...ACCOUNT_LIMITS_OFF,
    });
  });
});

describe("applyPolicyUpdate: FREEZE", () => {
  test("FREEZE with freeze_until freezes until then and keeps the base mode", () => {
    const policy = accepted(applyPolicyUpdate(basePolicy({ mode: "SHADOW" }), { mode: "FREEZE", freeze_until: UNTIL }));
    expect(policy).toEqual(basePolicy({ mode: "SHADOW", freeze: { until: UNTIL } }));
  });

  test("FREEZE without freeze_until, or with null, is indefinite", () => {
    expect(accepted(applyPolicyUpdate(basePolicy(), { mode: "FREEZE" })).freeze).toEqual({ until: null });
    expect(accepted(applyPolicyUpdate(basePolicy(), { mode: "FREEZE", freeze_until: null })).freeze).toEqual({ until: null });
    expect(accepted(applyPolicyUpdate(basePolicy(), { mode: "FREEZE" })).mode).toBe("LIVE");
  });

  test("a new FREEZE replaces the previous one", () => {
    const current = basePolicy({ freeze: { until: null } });
    expect(accepted(applyPolicyUpdate(current, { mode: "FREEZE", freeze_until: UNTIL })).freeze).toEqual({ until: UNTIL });
  });

  test.each(["LIVE", "SHADOW", "PAUSED", "EMERGENCY"] as const)("mode %s ends a freeze", (mode) => {
    const current = basePolicy({ freeze: { until: UNTIL } });
    const policy = accepted(applyPolicyUpdate(current, { mode }));
    expect(policy.freeze).toBeNull();
    expect(policy.mode).toBe(mode);
    expect(modeAt(policy, UNTIL - 1)).toBe(mode);
  });

  test("an update without a mode leaves a freeze in place", () => {
    const current = basePolicy({ freeze: { until: UNTIL } });
    const policy = accepted(applyPolicyUpdate(current, { enforcement: "audit", max_leverage: 2 }));
    expect(policy.freeze).toEqual({ until: UNTIL });
    expect(modeAt(policy, UNTIL - 1)).toBe("FREEZE");
  });

  test.each([
    ["zero", 0],
    ["negative", -5],
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["a string", "1700000600000"],
    ["an object", { ms: 1 }],
  ])("freeze_until as %s is rejected", (_, freeze_until) => {
    const violations = rejected(applyPolicyUpdate(basePolicy(), { mode: "FREEZE", freeze_until }));
    expect(violations).toEqual(["freeze_until: must be a time in ms since the epoch, or absent for an indefinite freeze"]);
  });

  test("freeze_until without mode FREEZE is rejected", () => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { freeze_until: UNTIL }))).toEqual([
      "freeze_until: only valid with mode FREEZE",
    ]);
    expect(rejected(applyPolicyUpdate(basePolicy(), { mode: "LIVE", freeze_until: UNTIL }))).toEqual([
      "freeze_until: only valid with mode FREEZE",
    ]);
    expect(rejected(applyPolicyUpdate(basePolicy(), { mode: "PAUSED", freeze_until: null }))).toEqual([
      "freeze_until: only valid with mode FREEZE",
    ]);
  });
});

describe("modeAt", () => {
  test("no freeze: the base mode at any time", () => {
    for (const mode of ["LIVE", "SHADOW", "PAUSED", "EMERGENCY"] as const) {
      expect(modeAt(basePolicy({ mode }), 0)).toBe(mode);
      expect(modeAt(basePolicy({ mode }), UNTIL)).toBe(mode);
    }
  });

  test("a timed freeze: FREEZE before until, the base mode at and after until (exclusive)", () => {
    const policy = basePolicy({ mode: "SHADOW", freeze: { until: UNTIL } });
    expect(modeAt(policy, 0)).toBe("FREEZE");
    expect(modeAt(policy, UNTIL - 1)).toBe("FREEZE");
    expect(modeAt(policy, UNTIL - 0.5)).toBe("FREEZE");
    expect(modeAt(policy, UNTIL)).toBe("SHADOW");
    expect(modeAt(policy, UNTIL + 1)).toBe("SHADOW");
  });

  test("an indefinite freeze is FREEZE at any time", () => {
    const policy = basePolicy({ mode: "PAUSED", freeze: { until: null } });
    expect(modeAt(policy, 0)).toBe("FREEZE");
    expect(modeAt(policy, UNTIL)).toBe("FREEZE");
    expect(modeAt(policy, Number.MAX_SAFE_INTEGER)).toBe("FREEZE");
  });

  test("end to end: a FREEZE update with until, then at until the old mode is back", () => {
    const policy = accepted(applyPolicyUpdate(basePolicy({ mode: "LIVE" }), { mode: "FREEZE", freeze_until: UNTIL }));
    expect(modeAt(policy, UNTIL - 1)).toBe("FREEZE");
    expect(modeAt(policy, UNTIL)).toBe("LIVE");
  });
});

describe("applyPolicyUpdate: rejections", () => {
  test.each([
    ["null", null],
    ["undefined", undefined],
    ["a number", 42],
    ["a string", "mode=LIVE"],
    ["a boolean", true],
    ["an array", [{ mode: "LIVE" }]],
  ])("an update that is %s is rejected", (_, update) => {
    expect(rejected(applyPolicyUpdate(basePolicy(), update))).toEqual(["policy update: must be an object"]);
  });

  test("unknown fields are each reported", () => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { Mode: "LIVE", leverage: 2, mode: "LIVE" }))).toEqual([
      "Mode: unknown policy field",
      "leverage: unknown policy field",
    ]);
  });

  test.each([["FROZEN"], ["live"], [""], [null], [1]])("mode %p is rejected", (mode) => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { mode }))).toEqual([`mode: must be one of ${MODE_LIST}`]);
  });

  test.each([["Audit"], ["off"], [null], [true]])("enforcement %p is rejected", (enforcement) => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { enforcement }))).toEqual(["enforcement: must be one of enforce, audit"]);
  });

  test.each([[0], [-1], [-0.5], [NaN], [Infinity], [-Infinity], ["5"], [true], [undefined], [{}]])(
    "risk limit %p is rejected for both limits",
    (value) => {
      expect(rejected(applyPolicyUpdate(basePolicy(), { max_leverage: value }))).toEqual([
        "max_leverage: must be a positive number or null (off)",
      ]);
      expect(rejected(applyPolicyUpdate(basePolicy(), { max_notional_usd: value }))).toEqual([
        "max_notional_usd: must be a positive number or null (off)",
      ]);
    },
  );

  test("active_symbols that is not a list is rejected", () => {
    for (const value of ["BTCUSDT", { BTCUSDT: true }, 1]) {
      expect(rejected(applyPolicyUpdate(basePolicy(), { active_symbols: value }))).toEqual([
        "active_symbols: must be a list of symbols or null (all)",
      ]);
    }
  });

  test("each bad symbol is reported by its index", () => {
    const violations = rejected(
      applyPolicyUpdate(basePolicy(), {
        active_symbols: ["BTCUSDT", "", "BTC USDT", 42, "A".repeat(33), "ETHUSDT", null, "BTC\nUSDT", "ÄBC"],
      }),
    );
    expect(violations).toEqual([
      "active_symbols[1]: not a symbol",
      "active_symbols[2]: not a symbol",
      "active_symbols[3]: not a symbol",
      "active_symbols[4]: not a symbol",
      "active_symbols[6]: not a symbol",
      "active_symbols[7]: not a symbol",
      "active_symbols[8]: not a symbol",
    ]);
  });

  test("model weights outside 0..1 or not numbers are each reported", () => {
    const violations = rejected(
      applyPolicyUpdate(basePolicy(), {
        model_weights: { ok0: 0, okHalf: 0.5, ok1: 1, neg: -0.1, big: 1.1, nan: NaN, inf: Infinity, str: "0.5", nul: null },
      }),
    );
    expect(violations).toEqual([
      "model_weights.neg: must be a number from 0 to 1",
      "model_weights.big: must be a number from 0 to 1",
      "model_weights.nan: must be a number from 0 to 1",
      "model_weights.inf: must be a number from 0 to 1",
      "model_weights.str: must be a number from 0 to 1",
      "model_weights.nul: must be a number from 0 to 1",
    ]);
  });

  test("model_weights that is not an object is rejected", () => {
    for (const value of [[0.5], "NHiTS=1", 1]) {
      expect(rejected(applyPolicyUpdate(basePolicy(), { model_weights: value }))).toEqual([
        "model_weights: must be an object of model -> weight, or null",
      ]);
    }
  });

  test("thresholds that is not an object is rejected", () => {
    for (const value of [null, [1], "MIN_NOTIONAL_USD=30", 30]) {
      expect(rejected(applyPolicyUpdate(basePolicy(), { thresholds: value }))).toEqual([
        "thresholds: must be an object of gate variables",
      ]);
    }
  });

  test("threshold keys: misspelt ones get a guess, unrelated ones are rejected too, all prefixed thresholds.", () => {
    const violations = rejected(
      applyPolicyUpdate(basePolicy(), {
        thresholds: { MIN_NOTIONAL_UDS: 30, min_r_trend: 3, MAX_TRADE_10MIN: 4, TELEGRAM_CHAT_ID: "1", EDGE_MULTIPLIER: 2 },
      }),
    );
    expect(violations).toEqual([
      "thresholds.MIN_NOTIONAL_UDS: unknown gate variable (did you mean MIN_NOTIONAL_USD?)",
      "thresholds.min_r_trend: unknown gate variable (did you mean MIN_R_TREND?)",
      "thresholds.MAX_TRADE_10MIN: unknown gate variable (did you mean MAX_TRADES_10MIN?)",
      "thresholds.TELEGRAM_CHAT_ID: unknown gate variable",
    ]);
  });

  test("threshold values are checked by the config contract, all prefixed thresholds.", () => {
    const violations = rejected(
      applyPolicyUpdate(basePolicy(), {
        thresholds: {
          MIN_NOTIONAL_USD: -1,
          EDGE_MULTIPLIER: "abc",
          MIN_HOLD_SECONDS: 1.5,
          MAX_TRADES_10MIN: "2.5",
          FEES_BPS: null,
          ALLOWED_MODELS_TREND: ["NHiTS", "bad name"],
          ALLOWED_MODELS_RANGE: 3,
          MIN_R_RANGE: 2, // valid
        },
      }),
    );
    expect(violations).toEqual([
      "thresholds.MIN_NOTIONAL_USD: -1 is negative",
      `thresholds.EDGE_MULTIPLIER: "abc" is not a number`,
      "thresholds.MIN_HOLD_SECONDS: 1.5 is not a whole number",
      "thresholds.MAX_TRADES_10MIN: 2.5 is not a whole number",
      "thresholds.FEES_BPS: null is not a number",
      `thresholds.ALLOWED_MODELS_TREND: "bad name" is not a model name`,
      "thresholds.ALLOWED_MODELS_RANGE: expected a comma-separated list of model names",
    ]);
  });

  test("an update with several violations reports every one, naming its field, and returns no policy", () => {
    const result = applyPolicyUpdate(basePolicy(), {
      extra: 1,
      mode: "SLEEP",
      enforcement: "maybe",
      max_leverage: 0,
      max_notional_usd: -5,
      active_symbols: ["BTCUSDT", "bad symbol"],
      model_weights: { NHiTS: 2 },
      thresholds: { MIN_NOTIONAL_USD: "abc" },
    });
    const violations = rejected(result);
    expect(violations).toHaveLength(8);
    expect(violations).toEqual([
      "extra: unknown policy field",
      `mode: must be one of ${MODE_LIST}`,
      "enforcement: must be one of enforce, audit",
      "max_leverage: must be a positive number or null (off)",
      "max_notional_usd: must be a positive number or null (off)",
      "active_symbols[1]: not a symbol",
      "model_weights.NHiTS: must be a number from 0 to 1",
      `thresholds.MIN_NOTIONAL_USD: "abc" is not a number`,
    ]);
    const fields = ["extra", "mode", "enforcement", "max_leverage", "max_notional_usd", "active_symbols", "model_weights", "thresholds"];
    fields.forEach((field, i) => expect(violations[i]!.startsWith(field)).toBe(true));
  });

  test("FREEZE with a bad freeze_until plus other violations reports them all", () => {
    const violations = rejected(
      applyPolicyUpdate(basePolicy(), { mode: "FREEZE", freeze_until: -1, max_leverage: "x", active_symbols: [""] }),
    );
    expect(violations).toEqual([
      "freeze_until: must be a time in ms since the epoch, or absent for an indefinite freeze",
      "max_leverage: must be a positive number or null (off)",
      "active_symbols[0]: not a symbol",
    ]);
  });

  test("a bad mode with freeze_until reports both", () => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { mode: "freeze", freeze_until: UNTIL }))).toEqual([
      `mode: must be one of ${MODE_LIST}`,
      "freeze_until: only valid with mode FREEZE",
    ]);
  });
});

describe("applyPolicyUpdate: the current policy is never mutated", () => {
  const richPolicy = (): KernelPolicy =>
    basePolicy({
      mode: "SHADOW",
      freeze: { until: UNTIL },
      enforcement: "audit",
      max_leverage: 3,
      max_notional_usd: 500,
      active_symbols: ["BTCUSDT", "ETHUSDT"],
      model_weights: { NHiTS: 0.5 },
      thresholds: { MIN_NOTIONAL_USD: 40, ALLOWED_MODELS_TREND: ["NHiTS"] },
    });

  test("by an accepted update that changes every field", () => {
    const current = richPolicy();
    const before = structuredClone(current);
    const policy = accepted(
      applyPolicyUpdate(current, {
        mode: "FREEZE",
        freeze_until: UNTIL + 1000,
        enforcement: "enforce",
        max_leverage: 10,
        max_notional_usd: null,
        active_symbols: ["SOLUSDT"],
        model_weights: { XGBoost: 1 },
        thresholds: { MIN_NOTIONAL_USD: 60, EDGE_MULTIPLIER: 4 },
      }),
    );
    expect(current).toEqual(before);
    expect(policy.thresholds).not.toBe(current.thresholds);
    expect(policy).toEqual({
      mode: "SHADOW",
      freeze: { until: UNTIL + 1000 },
      enforcement: "enforce",
      max_leverage: 10,
      max_notional_usd: null,
      active_symbols: ["SOLUSDT"],
      model_weights: { XGBoost: 1 },
      thresholds: { MIN_NOTIONAL_USD: 60, EDGE_MULTIPLIER: 4, ALLOWED_MODELS_TREND: ["NHiTS"] },
      windows: [],
      ...ACCOUNT_LIMITS_OFF,
    });
  });

  test("by a rejected update, even where parts of it were valid", () => {
    const current = richPolicy();
    const before = structuredClone(current);
    const result = applyPolicyUpdate(current, {
      mode: "LIVE",
      enforcement: "enforce",
      max_leverage: 7,
      active_symbols: ["SOLUSDT"],
      model_weights: { XGBoost: 1 },
      thresholds: { MIN_NOTIONAL_USD: 60 },
      max_notional_usd: 0, // the one violation
    });
    expect(rejected(result)).toEqual(["max_notional_usd: must be a positive number or null (off)"]);
    expect(current).toEqual(before);
  });

  test("by a rejected threshold update", () => {
    const current = richPolicy();
    const before = structuredClone(current);
    rejected(applyPolicyUpdate(current, { thresholds: { MIN_NOTIONAL_USD: 60, FEES_BPS: -1 } }));
    expect(current).toEqual(before);
    expect(current.thresholds).toEqual({ MIN_NOTIONAL_USD: 40, ALLOWED_MODELS_TREND: ["NHiTS"] });
  });

  test("the frozen DEFAULT_POLICY can be used as the current policy", () => {
    const policy = accepted(applyPolicyUpdate(DEFAULT_POLICY as KernelPolicy, { mode: "PAUSED", thresholds: { FEES_BPS: 5 } }));
    expect(policy.mode).toBe("PAUSED");
    expect(policy.thresholds).toEqual({ FEES_BPS: 5 });
    expect(DEFAULT_POLICY.mode).toBe("LIVE");
    expect(DEFAULT_POLICY.thresholds).toEqual({});
  });
});

describe("applyPolicyUpdate: thresholds merge", () => {
  test("new thresholds are merged over the previous ones", () => {
    const current = basePolicy({ thresholds: { MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: 4 } });
    const policy = accepted(applyPolicyUpdate(current, { thresholds: { EDGE_MULTIPLIER: 5, MIN_R_TREND: 3 } }));
    expect(policy.thresholds).toEqual({ MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: 5, MIN_R_TREND: 3 });
    expect(current.thresholds).toEqual({ MIN_NOTIONAL_USD: 50, EDGE_MULTIPLIER: 4 });
  });

  test("an empty thresholds object keeps the previous thresholds", () => {
    const current = basePolicy({ thresholds: { MIN_NOTIONAL_USD: 50 } });
    expect(accepted(applyPolicyUpdate(current, { thresholds: {} })).thresholds).toEqual({ MIN_NOTIONAL_USD: 50 });
  });

  test("an update without thresholds keeps them", () => {
    const current = basePolicy({ thresholds: { MIN_HOLD_SECONDS: 600 } });
    expect(accepted(applyPolicyUpdate(current, { mode: "SHADOW" })).thresholds).toEqual({ MIN_HOLD_SECONDS: 600 });
  });

  test("successive updates accumulate", () => {
    let policy = basePolicy();
    policy = accepted(applyPolicyUpdate(policy, { thresholds: { MIN_NOTIONAL_USD: 30 } }));
    policy = accepted(applyPolicyUpdate(policy, { thresholds: { ALLOWED_MODELS_HIGH_VOL: ["XGBoost", "NHiTS"] } }));
    policy = accepted(applyPolicyUpdate(policy, { thresholds: { MIN_NOTIONAL_USD: 35 } }));
    expect(policy.thresholds).toEqual({ MIN_NOTIONAL_USD: 35, ALLOWED_MODELS_HIGH_VOL: ["XGBoost", "NHiTS"] });
  });
});

describe("effectiveConfig", () => {
  test("no thresholds: equal to the file config", () => {
    const file = { ...fileConfig(), MIN_NOTIONAL_USD: 40 };
    expect(effectiveConfig(file, basePolicy())).toEqual({ ...fileConfig(), MIN_NOTIONAL_USD: 40 });
  });

  test("thresholds override the file config key by key; the rest comes from the file", () => {
    const file = { ...fileConfig(), MIN_NOTIONAL_USD: 40, FEES_BPS: 12 };
    const before = structuredClone(file);
    const policy = basePolicy({ thresholds: { MIN_NOTIONAL_USD: 50, ALLOWED_MODELS_TREND: ["NHiTS"] } });
    expect(effectiveConfig(file, policy)).toEqual({
      ...fileConfig(),
      MIN_NOTIONAL_USD: 50,
      FEES_BPS: 12,
      ALLOWED_MODELS_TREND: ["NHiTS"],
    });
    expect(file).toEqual(before);
    expect(policy.thresholds).toEqual({ MIN_NOTIONAL_USD: 50, ALLOWED_MODELS_TREND: ["NHiTS"] });
  });

  test("end to end: thresholds from accepted updates over the file config", () => {
    let policy = accepted(applyPolicyUpdate(basePolicy(), { thresholds: { EDGE_MULTIPLIER: "2", MIN_R_RANGE: 2.2 } }));
    policy = accepted(applyPolicyUpdate(policy, { thresholds: { MIN_R_RANGE: 1.5, ALLOWED_MODELS_LOW_VOL: "TFT,PatchTST" } }));
    expect(effectiveConfig(fileConfig(), policy)).toEqual({
      ...fileConfig(),
      EDGE_MULTIPLIER: 2,
      MIN_R_RANGE: 1.5,
      ALLOWED_MODELS_LOW_VOL: ["TFT", "PatchTST"],
    });
  });
});

describe("mode windows", () => {
  const FROM = 1_800_000_000_000;
  const UNTIL = FROM + 3_600_000;

  test("a window sets its mode from `from` (inclusive) to `until` (exclusive); the base mode stays", () => {
    const result = applyPolicyUpdate(DEFAULT_POLICY, { mode_window: { mode: "PAUSED", from: FROM, until: UNTIL } });
    if (!result.ok) throw new Error(result.violations.join("; "));
    const policy = result.policy;
    expect(policy.mode).toBe("LIVE");
    expect([FROM - 1, FROM, UNTIL - 1, UNTIL].map((ts) => modeAt(policy, ts))).toEqual(["LIVE", "PAUSED", "PAUSED", "LIVE"]);
  });

  test("overlapping windows: the one that started last wins; a freeze wins over any window; null clears them", () => {
    const first = applyPolicyUpdate(DEFAULT_POLICY, { mode_window: { mode: "PAUSED", from: FROM, until: UNTIL } });
    if (!first.ok) throw new Error("first");
    const second = applyPolicyUpdate(first.policy, { mode_window: { mode: "SHADOW", from: FROM + 1000, until: FROM + 2000 } });
    if (!second.ok) throw new Error("second");
    expect([FROM, FROM + 1500, FROM + 2500].map((ts) => modeAt(second.policy, ts))).toEqual(["PAUSED", "SHADOW", "PAUSED"]);
    const frozen = applyPolicyUpdate(second.policy, { mode: "FREEZE", freeze_until: UNTIL });
    if (!frozen.ok) throw new Error("frozen");
    expect(modeAt(frozen.policy, FROM + 1500)).toBe("FREEZE");
    const cleared = applyPolicyUpdate(second.policy, { mode_window: null });
    expect(cleared.ok && modeAt(cleared.policy, FROM + 1500)).toBe("LIVE");
  });

  test("bad windows are refused with every reason", () => {
    expect(applyPolicyUpdate(DEFAULT_POLICY, { mode_window: { mode: "FREEZE", from: UNTIL, until: FROM } } as never)).toEqual({
      ok: false,
      violations: ["mode_window.mode: must be LIVE, SHADOW, PAUSED or EMERGENCY", "mode_window: until must be after from"],
    });
    expect(applyPolicyUpdate(DEFAULT_POLICY, { mode_window: { mode: "PAUSED", from: -1, until: "soon", extra: 1 } } as never)).toEqual({
      ok: false,
      violations: ["mode_window: from and until must be times in ms since the epoch", "mode_window: unknown field extra"],
    });
  });

  test("at most 32 windows: the one ending first goes", () => {
    let policy: KernelPolicy = { ...DEFAULT_POLICY };
    for (let i = 0; i < 40; i++) {
      const r = applyPolicyUpdate(policy, { mode_window: { mode: "PAUSED", from: FROM + i * 10, until: FROM + i * 10 + 5 } });
      if (!r.ok) throw new Error("window");
      policy = r.policy;
    }
    expect(policy.windows).toHaveLength(32);
    expect(policy.windows![0]!.from).toBe(FROM + 80);
  });

  test("a policy stored before windows existed still reads", () => {
    const { windows: _none, ...old } = DEFAULT_POLICY;
    expect(modeAt(old as KernelPolicy, FROM)).toBe("LIVE");
  });
});

describe("applyPolicyUpdate: account limits (issue 11)", () => {
  test("a policy stored before the account limits existed reads as every limit off, and takes them", () => {
    const { capital, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier, ess, cashflow, ...old } = basePolicy();
    expect([capital, max_drawdown_pct, max_exposure_pct, stop_loss_multiplier, ess, cashflow]).toEqual([null, null, null, null, null, null]);
    const policy = accepted(applyPolicyUpdate(old as KernelPolicy, { max_drawdown_pct: 20 }));
    expect(policy.max_drawdown_pct).toBe(20);
    expect(policy.ess).toBeUndefined();
  });

  test("windows_end_at ends windows in force at that time, keeps earlier and later ones", () => {
    const [before, during, after] = [
      { mode: "PAUSED" as const, from: 1000, until: 2000 },
      { mode: "SHADOW" as const, from: 2500, until: 4000 },
      { mode: "EMERGENCY" as const, from: 5000, until: 6000 },
    ];
    const windows = [before, during, after];
    const policy = accepted(applyPolicyUpdate(basePolicy({ windows }), { mode: "LIVE", windows_end_at: 3000 }));
    expect(policy.windows).toEqual([before, { ...during, until: 3000 }, after]);
    // A window starting exactly then is ended before it starts, so it goes.
    expect(accepted(applyPolicyUpdate(basePolicy({ windows }), { windows_end_at: 2500 })).windows).toEqual([before, after]);
  });

  test("freeze severity and reason are kept with the freeze, and only valid with it", () => {
    expect(accepted(applyPolicyUpdate(basePolicy(), { mode: "FREEZE", freeze_severity: "LOW", freeze_reason: "r" })).freeze).toEqual({ until: null, severity: "LOW", reason: "r" });
    expect(rejected(applyPolicyUpdate(basePolicy(), { freeze_severity: "LOW" }))).toEqual(["freeze_severity: only valid with mode FREEZE"]);
    expect(rejected(applyPolicyUpdate(basePolicy(), { mode: "FREEZE", freeze_reason: "x".repeat(513) }))).toEqual(["reason: must be text of at most 512 characters"]);
  });

  test("unknown fields inside the account blocks are named", () => {
    expect(rejected(applyPolicyUpdate(basePolicy(), { capital: { profile: "MICRO", positions: 3 }, ess: { panic_pct: 3 }, cashflow: { profit_lock_pct: 0, reinvest_pct: 100, lock: 1 } }))).toEqual([
      "capital: unknown field positions",
      "ess: unknown field panic_pct",
      "cashflow: unknown field lock",
    ]);
  });

  test("ESS thresholds all null is ESS off; a cashflow's start is kept while one stays in force, and null ends it", () => {
    const on = accepted(applyPolicyUpdate(basePolicy(), { ess: { critical_threshold_pct: 20 }, cashflow: { profit_lock_pct: 50, reinvest_pct: 50, since: 1000 } }));
    expect(on.ess).toEqual({ caution_threshold_pct: null, warning_threshold_pct: null, critical_threshold_pct: 20 });
    const off = accepted(applyPolicyUpdate(on, { ess: { critical_threshold_pct: null }, cashflow: { profit_lock_pct: 10, reinvest_pct: 90, since: 9000 } }));
    expect(off.ess).toBeNull();
    expect(off.cashflow).toEqual({ profit_lock_pct: 10, reinvest_pct: 90, reserve_buffer_pct: 0, since: 1000 });
    const restarted = accepted(applyPolicyUpdate(accepted(applyPolicyUpdate(off, { cashflow: null })), { cashflow: { profit_lock_pct: 10, reinvest_pct: 90, since: 9000 } }));
    expect(restarted.cashflow!.since).toBe(9000);
  });

  test("stop_loss_multiplier from 1 to 100: below 1 would narrow stops and loosen every limit that reads them", () => {
    expect(accepted(applyPolicyUpdate(basePolicy(), { stop_loss_multiplier: 1 })).stop_loss_multiplier).toBe(1);
    expect(accepted(applyPolicyUpdate(basePolicy(), { stop_loss_multiplier: 100 })).stop_loss_multiplier).toBe(100);
    for (const value of [0.99, 0, -1, 100.5, Number.NaN, "2"]) {
      expect(rejected(applyPolicyUpdate(basePolicy(), { stop_loss_multiplier: value }))).toEqual(["stop_loss_multiplier: must be a number from 1 to 100, or null (1)"]);
    }
  });
});
