import { describe, expect, setSystemTime, test } from "bun:test";
import { DEFAULT_CONFIG } from "./config.ts";
import { compileContext, countsAsTrade, evaluate, isAuthorised } from "./gates.ts";
import { DEFAULT_POLICY, applyPolicyUpdate, type KernelPolicy, type PolicyUpdate } from "./policy.ts";
import { TradeWindow } from "./trade-window.ts";
import type { Verdict } from "./types.ts";

const T0 = 1_764_000_000_000;
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

/** A BUY that passes every gate on its own: notional 100, R = 2.5 (TREND minimum), edge 5 >> 0.66. */
function intent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "i-1",
    symbol: "BTCUSDT",
    side: "BUY",
    qty: 1,
    price: 100,
    tp: 125,
    sl: 90,
    expected_move_usd: 5,
    model: "NHiTS",
    regime: "TREND",
    ts: T0,
    ...overrides,
  };
}

/** The mirror SELL: tp below, sl above, R = 25 / 10 = 2.5. */
function sell(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return intent({ side: "SELL", tp: 75, sl: 110, ...overrides });
}

/** Same intent without some fields. */
function without(base: Record<string, unknown>, ...fields: string[]): Record<string, unknown> {
  const copy = { ...base };
  for (const f of fields) delete copy[f];
  return copy;
}

function policy(update: PolicyUpdate | Record<string, unknown> = {}): KernelPolicy {
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) throw new Error(`bad test policy: ${result.violations.join("; ")}`);
  return result.policy;
}

function run(input: unknown, pol: KernelPolicy = policy(), window: TradeWindow = new TradeWindow()): Verdict {
  return evaluate(input, compileContext(DEFAULT_CONFIG, pol), window);
}

/** [verdict, reasons] for compact exact assertions. */
function vr(input: unknown, pol?: KernelPolicy, window?: TradeWindow): [string, string[]] {
  const v = run(input, pol, window);
  return [v.verdict, v.reasons];
}

function windowWith(trades: Array<[string, number]>, closes: Array<[string, number]> = []): TradeWindow {
  const w = new TradeWindow();
  for (const [s, ts] of trades) w.recordTrade(s, ts);
  for (const [s, ts] of closes) w.recordClose(s, ts);
  return w;
}

const PASS: [string, string[]] = ["PASS", []];
const hold = (...reasons: string[]): [string, string[]] => ["HOLD", reasons];

describe("baseline", () => {
  test("the helper intent passes with exact metrics", () => {
    expect(run(intent())).toEqual({
      id: "i-1",
      verdict: "PASS",
      reasons: [],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2.5 },
    });
  });

  test("the mirror SELL passes with exact metrics", () => {
    expect(run(sell())).toEqual({
      id: "i-1",
      verdict: "PASS",
      reasons: [],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2.5 },
    });
  });

  test("evaluate does not change the trade window", () => {
    const w = windowWith([["ETHUSDT", T0 - 10 * SEC]]);
    const first = run(intent(), policy(), w);
    const second = run(intent(), policy(), w);
    expect(second).toEqual(first);
    expect(w.cooldownFrom("BTCUSDT")).toBeUndefined();
    expect(w.wouldExceedRate(T0, 1)).toBe(true);
    expect(w.wouldExceedRate(T0, 2)).toBe(false);
  });
});

describe("MIN_NOTIONAL", () => {
  test("notional exactly 25 passes (price 25 qty 1)", () => {
    expect(vr(intent({ price: 25, qty: 1, tp: 31.25, sl: 22.5 }))).toEqual(PASS);
  });

  test("notional 25 from floats passes: price 0.1 qty 250, 0.2 x 125, 0.25 x 100, 12.5 x 2", () => {
    for (const [price, qty] of [
      [0.1, 250],
      [0.2, 125],
      [0.25, 100],
      [12.5, 2],
      [0.05, 500],
    ] as const) {
      const v = run(intent({ price, qty, tp: price * 3.5, sl: price * 0.5 }));
      expect([price, qty, v.verdict, v.reasons]).toEqual([price, qty, "PASS", []]);
      expect(v.metrics.notional).toBeCloseTo(25, 12);
    }
  });

  test("notional 24.99 holds with MIN_NOTIONAL only", () => {
    expect(vr(intent({ price: 24.99, qty: 1, tp: 24.99 * 2, sl: 20 }))).toEqual(hold("MIN_NOTIONAL"));
    expect(vr(intent({ price: 100, qty: 0.2499, tp: 130, sl: 90 }))).toEqual(hold("MIN_NOTIONAL"));
  });

  test("the 1e-9 relative tolerance: 25*(1-5e-10) passes, 25*(1-2e-9) holds", () => {
    expect(vr(intent({ price: 25 * (1 - 5e-10), qty: 1, tp: 40, sl: 20 }))).toEqual(PASS);
    expect(vr(intent({ price: 25 * (1 - 2e-9), qty: 1, tp: 40, sl: 20 }))).toEqual(hold("MIN_NOTIONAL"));
  });

  test("SELL: notional 25 passes, 24.99 holds", () => {
    expect(vr(sell({ price: 0.1, qty: 250, tp: 0.05, sl: 0.11 }))).toEqual(PASS);
    expect(vr(sell({ price: 24.99, qty: 1, tp: 10, sl: 26 }))).toEqual(hold("MIN_NOTIONAL"));
  });

  test("MIN_NOTIONAL_USD threshold from policy thresholds", () => {
    const p = policy({ thresholds: { MIN_NOTIONAL_USD: 150 } });
    expect(vr(intent({ qty: 1.5 }), p)).toEqual(PASS);
    expect(vr(intent({ qty: 1.49 }), p)).toEqual(hold("MIN_NOTIONAL"));
  });
});

describe("EDGE_TOO_SMALL", () => {
  test("friction is 22 bps of notional and required = friction x 3", () => {
    const v = run(intent({ price: 50_000, qty: 0.01, tp: 51_000, sl: 49_600 }));
    expect(v.metrics.notional).toBe(500);
    expect(v.metrics.friction_usd).toBe(1.1);
    expect(v.metrics.required_edge_usd).toBeCloseTo(3.3, 12);
  });

  test("expected move exactly equal to the required edge passes; a cent under holds", () => {
    // notional 100 -> friction 0.22 -> required 0.66
    expect(vr(intent({ expected_move_usd: 0.66 }))).toEqual(PASS);
    expect(vr(intent({ expected_move_usd: 0.65 }))).toEqual(hold("EDGE_TOO_SMALL"));
    // notional 500 -> required 3.3000000000000003 in binary: decimal 3.3 must still pass
    const big = { price: 50_000, qty: 0.01, tp: 51_000, sl: 49_600 };
    expect(vr(intent({ ...big, expected_move_usd: 3.3 }))).toEqual(PASS);
    expect(vr(intent({ ...big, expected_move_usd: 3.29 }))).toEqual(hold("EDGE_TOO_SMALL"));
  });

  test("zero expected move holds with exact metrics", () => {
    const v = run(intent({ expected_move_usd: 0 }));
    expect(v).toEqual({
      id: "i-1",
      verdict: "HOLD",
      reasons: ["EDGE_TOO_SMALL"],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2.5 },
    });
  });

  test("friction sums fees, funding, slippage and noise from thresholds; multiplier applies", () => {
    // 20 + 2 + 6 + 4 = 32 bps of 100 = 0.32; x 2 = 0.64
    const p = policy({ thresholds: { FEES_BPS: 20, EDGE_MULTIPLIER: 2 } });
    const v = run(intent({ expected_move_usd: 0.64 }), p);
    expect(v.verdict).toBe("PASS");
    expect(v.metrics.friction_usd).toBeCloseTo(0.32, 12);
    expect(v.metrics.required_edge_usd).toBeCloseTo(0.64, 12);
    expect(vr(intent({ expected_move_usd: 0.63 }), p)).toEqual(hold("EDGE_TOO_SMALL"));
    const all = policy({ thresholds: { FEES_BPS: 1, FUNDING_BPS: 1, SLIPPAGE_BPS: 1, NOISE_BPS: 1 } });
    expect(run(intent(), all).metrics.friction_usd).toBeCloseTo(0.04, 12);
  });

  test("SELL: equal passes, a cent under holds", () => {
    expect(vr(sell({ expected_move_usd: 0.66 }))).toEqual(PASS);
    expect(vr(sell({ expected_move_usd: 0.65 }))).toEqual(hold("EDGE_TOO_SMALL"));
  });
});

describe("COOLDOWN", () => {
  test("exactly 300 s after the last trade passes, 299.999 s holds", () => {
    const w = windowWith([["BTCUSDT", T0]]);
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(PASS);
    expect(vr(intent({ ts: T0 + 299_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 }), policy(), w)).toEqual(hold("COOLDOWN"));
  });

  test("exactly 300 s after the last close passes, 299.999 s holds", () => {
    const w = windowWith([], [["BTCUSDT", T0]]);
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(PASS);
    expect(vr(intent({ ts: T0 + 299_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
  });

  test("a later close restarts the cooldown", () => {
    const w = windowWith([["BTCUSDT", T0]], [["BTCUSDT", T0 + 200 * SEC]]);
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 + 499_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 + 500 * SEC }), policy(), w)).toEqual(PASS);
  });

  test("a close earlier than the last trade does not shorten it", () => {
    const w = windowWith([["BTCUSDT", T0]], [["BTCUSDT", T0 - 200 * SEC]]);
    expect(vr(intent({ ts: T0 + 299_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(PASS);
  });

  test("a later trade after a close restarts it too", () => {
    const w = windowWith([["BTCUSDT", T0 + 100 * SEC]], [["BTCUSDT", T0]]);
    expect(vr(intent({ ts: T0 + 399_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 + 400 * SEC }), policy(), w)).toEqual(PASS);
  });

  test("an out-of-order intent earlier than the symbol's last trade holds (earlier history is not kept)", () => {
    const w = windowWith([["BTCUSDT", T0]]);
    expect(vr(intent({ ts: T0 - 1 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ ts: T0 - 20 * MIN }), policy(), w)).toEqual(hold("COOLDOWN"));
  });

  test("cooldown is per symbol", () => {
    const w = windowWith([["ETHUSDT", T0]], [["SOLUSDT", T0]]);
    expect(vr(intent({ ts: T0 + 1 }), policy(), w)).toEqual(PASS);
    expect(vr(intent({ symbol: "ETHUSDT", ts: T0 + 1 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(intent({ symbol: "SOLUSDT", ts: T0 + 1 }), policy(), w)).toEqual(hold("COOLDOWN"));
  });

  test("SELL after a BUY on the same symbol within 300 s holds; at 300 s passes", () => {
    const w = windowWith([["BTCUSDT", T0]]);
    expect(vr(sell({ ts: T0 + 299_999 }), policy(), w)).toEqual(hold("COOLDOWN"));
    expect(vr(sell({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(PASS);
  });

  test("MIN_HOLD_SECONDS from thresholds", () => {
    const w = windowWith([["BTCUSDT", T0]]);
    const p = policy({ thresholds: { MIN_HOLD_SECONDS: 60 } });
    expect(vr(intent({ ts: T0 + 60 * SEC }), p, w)).toEqual(PASS);
    expect(vr(intent({ ts: T0 + 59_999 }), p, w)).toEqual(hold("COOLDOWN"));
    const zero = policy({ thresholds: { MIN_HOLD_SECONDS: 0 } });
    expect(vr(intent({ ts: T0 }), zero, w)).toEqual(PASS);
  });
});

describe("RATE_LIMIT", () => {
  // Three trades on other symbols so that COOLDOWN stays out of the way.
  const three = () =>
    windowWith([
      ["ETHUSDT", T0],
      ["SOLUSDT", T0 + 100 * SEC],
      ["XRPUSDT", T0 + 200 * SEC],
    ]);

  test("a 4th trade within 600 s of the first holds", () => {
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), three())).toEqual(hold("RATE_LIMIT"));
    expect(vr(intent({ ts: T0 + 599_999 }), policy(), three())).toEqual(hold("RATE_LIMIT"));
  });

  test("a trade exactly 600 s after the first of 3 passes (half-open window)", () => {
    expect(vr(intent({ ts: T0 + 600 * SEC }), policy(), three())).toEqual(PASS);
  });

  test("two trades in the window leave room for a third", () => {
    const w = windowWith([
      ["ETHUSDT", T0],
      ["SOLUSDT", T0 + 100 * SEC],
    ]);
    expect(vr(intent({ ts: T0 + 200 * SEC }), policy(), w)).toEqual(PASS);
  });

  test("out-of-order intent earlier than the recorded trades that would make 4 in a window holds", () => {
    expect(vr(intent({ ts: T0 - 50 * SEC }), policy(), three())).toEqual(hold("RATE_LIMIT"));
    expect(vr(intent({ ts: T0 - 399_999 }), policy(), three())).toEqual(hold("RATE_LIMIT"));
    // 600 s before the last of the three: the window [ts, ts+600 s) holds only ts and two trades
    expect(vr(intent({ ts: T0 - 400 * SEC }), policy(), three())).toEqual(PASS);
  });

  test("an intent in the middle of a spread-out history holds when it completes a run of 4", () => {
    const w = windowWith([
      ["ETHUSDT", T0],
      ["SOLUSDT", T0 + 400 * SEC],
      ["XRPUSDT", T0 + 500 * SEC],
    ]);
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), w)).toEqual(hold("RATE_LIMIT"));
    const spread = windowWith([
      ["ETHUSDT", T0],
      ["SOLUSDT", T0 + 600 * SEC],
      ["XRPUSDT", T0 + 1200 * SEC],
    ]);
    expect(vr(intent({ ts: T0 + 300 * SEC }), policy(), spread)).toEqual(PASS);
    expect(vr(intent({ ts: T0 + 900 * SEC }), policy(), spread)).toEqual(PASS);
  });

  test("closes do not count toward the rate window", () => {
    const w = windowWith(
      [],
      [
        ["ETHUSDT", T0],
        ["SOLUSDT", T0 + 1],
        ["XRPUSDT", T0 + 2],
        ["ADAUSDT", T0 + 3],
      ],
    );
    expect(vr(intent({ ts: T0 + 10 }), policy(), w)).toEqual(PASS);
  });

  test("MAX_TRADES_10MIN from thresholds: 1 and 0", () => {
    const w = windowWith([["ETHUSDT", T0]]);
    const one = policy({ thresholds: { MAX_TRADES_10MIN: 1 } });
    expect(vr(intent({ ts: T0 + 599_999 }), one, w)).toEqual(hold("RATE_LIMIT"));
    expect(vr(intent({ ts: T0 + 600 * SEC }), one, w)).toEqual(PASS);
    const zero = policy({ thresholds: { MAX_TRADES_10MIN: 0 } });
    expect(vr(intent(), zero)).toEqual(hold("RATE_LIMIT"));
  });

  test("SELL: the 4th holds, exactly 600 s passes", () => {
    expect(vr(sell({ ts: T0 + 599_999 }), policy(), three())).toEqual(hold("RATE_LIMIT"));
    expect(vr(sell({ ts: T0 + 600 * SEC }), policy(), three())).toEqual(PASS);
  });
});

describe("R_TOO_LOW", () => {
  const regimes = [
    // regime, model, BUY tp at the exact minimum (price 100, sl 90), SELL tp (price 100, sl 110)
    ["TREND", "NHiTS", 125, 75],
    ["RANGE", "XGBoost", 118, 82],
    ["HIGH_VOL", "XGBoost", 130, 70],
    ["LOW_VOL", "PatchTST", 120, 80],
  ] as const;

  for (const [regime, model, tp, sellTp] of regimes) {
    test(`${regime}: exact minimum passes, 0.1 below holds (BUY and SELL)`, () => {
      expect(vr(intent({ regime, model, tp }))).toEqual(PASS);
      expect(vr(intent({ regime, model, tp: tp - 1 }))).toEqual(hold("R_TOO_LOW"));
      expect(vr(sell({ regime, model, tp: sellTp }))).toEqual(PASS);
      expect(vr(sell({ regime, model, tp: sellTp + 1 }))).toEqual(hold("R_TOO_LOW"));
    });
  }

  test("metrics.r_ratio per regime boundary", () => {
    expect(run(intent({ regime: "RANGE", model: "XGBoost", tp: 118 })).metrics.r_ratio).toBeCloseTo(1.8, 12);
    expect(run(intent({ regime: "HIGH_VOL", model: "XGBoost", tp: 130 })).metrics.r_ratio).toBe(3);
    expect(run(intent({ regime: "LOW_VOL", model: "PatchTST", tp: 120 })).metrics.r_ratio).toBe(2);
  });

  test("floating boundary: price 1.1 tp 1.35 sl 1.0 is R 2.5 in decimal and passes", () => {
    const v = run(intent({ price: 1.1, qty: 100, tp: 1.35, sl: 1.0 }));
    expect(v.metrics.r_ratio!).toBeLessThan(2.5); // binary lands below 2.5
    expect<unknown>([v.verdict, v.reasons]).toEqual(PASS);
  });

  test("floating boundaries that land below the minimum still pass, per regime (BUY)", () => {
    for (const [regime, model, tp, sl] of [
      ["TREND", "NHiTS", 3.485, 0.02],
      ["RANGE", "XGBoost", 2.792, 0.02],
      ["HIGH_VOL", "XGBoost", 3.98, 0.02],
      ["LOW_VOL", "PatchTST", 3.01, 0.01],
    ] as const) {
      const v = run(intent({ price: 1.01, qty: 100, tp, sl, regime, model }));
      expect([regime, v.verdict, v.reasons]).toEqual([regime, "PASS", []]);
    }
  });

  test("floating boundaries that land below the minimum still pass, per regime (SELL)", () => {
    for (const [regime, model, tp, sl] of [
      ["TREND", "NHiTS", 0.935, 1.04],
      ["RANGE", "XGBoost", 0.92, 1.06],
      ["HIGH_VOL", "XGBoost", 0.92, 1.04],
      ["LOW_VOL", "PatchTST", 0.93, 1.05],
    ] as const) {
      const v = run(sell({ price: 1.01, qty: 100, tp, sl, regime, model }));
      expect([regime, v.verdict, v.reasons]).toEqual([regime, "PASS", []]);
    }
  });

  test("just below the minimum holds: 2.49, and outside the 1e-9 tolerance", () => {
    expect(vr(intent({ tp: 124.9 }))).toEqual(hold("R_TOO_LOW"));
    expect(vr(intent({ tp: 100 + 25 * (1 - 2e-9) }))).toEqual(hold("R_TOO_LOW"));
    expect(vr(intent({ tp: 100 + 25 * (1 - 1e-10) }))).toEqual(PASS);
  });

  test("MIN_R thresholds from policy", () => {
    const p = policy({ thresholds: { MIN_R_TREND: 1.5 } });
    expect(vr(intent({ tp: 115 }), p)).toEqual(PASS);
    expect(vr(intent({ tp: 114 }), p)).toEqual(hold("R_TOO_LOW"));
  });
});

describe("MODEL_REGIME_MISMATCH", () => {
  const table: Record<string, string[]> = {
    TREND: ["NHiTS", "PatchTST"],
    RANGE: ["XGBoost", "LightGBM"],
    HIGH_VOL: ["XGBoost"],
    LOW_VOL: ["PatchTST"],
  };
  const tpFor: Record<string, number> = { TREND: 125, RANGE: 118, HIGH_VOL: 130, LOW_VOL: 120 };
  const models = ["NHiTS", "PatchTST", "XGBoost", "LightGBM"];

  for (const regime of Object.keys(table)) {
    test(`${regime}: allowed models pass, every other known model holds`, () => {
      for (const model of models) {
        const expected = table[regime]!.includes(model) ? PASS : hold("MODEL_REGIME_MISMATCH");
        expect([model, ...vr(intent({ regime, model, tp: tpFor[regime] }))]).toEqual([model, ...expected]);
        const sellTp = 100 - (tpFor[regime]! - 100);
        expect([model, ...vr(sell({ regime, model, tp: sellTp }))]).toEqual([model, ...expected]);
      }
    });
  }

  test("allow lists from policy thresholds extend the known models", () => {
    const p = policy({ thresholds: { ALLOWED_MODELS_TREND: ["Prophet"] } });
    expect(vr(intent({ model: "Prophet" }), p)).toEqual(PASS);
    expect(vr(intent({ model: "NHiTS" }), p)).toEqual(hold("INVALID_INPUT:model"));
    expect(vr(intent({ model: "PatchTST" }), p)).toEqual(hold("MODEL_REGIME_MISMATCH"));
    expect(vr(intent({ model: "Prophet" }))).toEqual(hold("INVALID_INPUT:model"));
  });
});

describe("several gates failing at once", () => {
  const GATES = ["MIN_NOTIONAL", "EDGE_TOO_SMALL", "COOLDOWN", "RATE_LIMIT", "R_TOO_LOW", "MODEL_REGIME_MISMATCH"];

  /** An intent and window that fail exactly the gates whose bits are set in `mask`. */
  function failing(mask: number): [Record<string, unknown>, TradeWindow] {
    const fails = (g: string) => (mask & (1 << GATES.indexOf(g))) !== 0;
    const w = new TradeWindow();
    const o: Record<string, unknown> = {};
    if (fails("MIN_NOTIONAL")) Object.assign(o, { qty: 0.2 }); // notional 20
    if (fails("EDGE_TOO_SMALL")) Object.assign(o, { expected_move_usd: 0 });
    if (fails("COOLDOWN")) w.recordClose("BTCUSDT", T0 - 1 * SEC);
    if (fails("RATE_LIMIT")) {
      w.recordTrade("ETHUSDT", T0 - 3 * SEC);
      w.recordTrade("SOLUSDT", T0 - 2 * SEC);
      w.recordTrade("XRPUSDT", T0 - 1 * SEC);
    }
    if (fails("R_TOO_LOW")) Object.assign(o, { tp: 110 });
    if (fails("MODEL_REGIME_MISMATCH")) Object.assign(o, { model: "XGBoost" });
    return [intent(o), w];
  }

  test("every subset of the six gates lists exactly its gates in order", () => {
    for (let mask = 0; mask < 64; mask++) {
      const [i, w] = failing(mask);
      const expected = GATES.filter((_, bit) => mask & (1 << bit));
      const v = run(i, policy(), w);
      expect<unknown>([mask, v.verdict, v.reasons]).toEqual([mask, expected.length ? "HOLD" : "PASS", expected]);
    }
  });

  test("all six gates, all four risk limits and a mode: mode first, then risk, then gates", () => {
    const p = policy({
      mode: "PAUSED",
      active_symbols: ["ETHUSDT"],
      model_weights: { XGBoost: 0 },
      max_leverage: 5,
      max_notional_usd: 5,
    });
    const w = windowWith([
      ["BTCUSDT", T0 - 3 * SEC],
      ["ETHUSDT", T0 - 2 * SEC],
      ["SOLUSDT", T0 - 1 * SEC],
    ]);
    const i = intent({ price: 10, qty: 1, tp: 11, sl: 9, expected_move_usd: 0, model: "XGBoost", leverage: 10 });
    expect(run(i, p, w)).toEqual({
      id: "i-1",
      verdict: "HOLD",
      reasons: [
        "MODE_PAUSED",
        "SYMBOL_NOT_ACTIVE",
        "MODEL_DISABLED",
        "LEVERAGE_TOO_HIGH",
        "NOTIONAL_TOO_LARGE",
        "MIN_NOTIONAL",
        "EDGE_TOO_SMALL",
        "COOLDOWN",
        "RATE_LIMIT",
        "R_TOO_LOW",
        "MODEL_REGIME_MISMATCH",
      ],
      enforced: true,
      mode: "PAUSED",
      metrics: { notional: 10, friction_usd: 0.022, required_edge_usd: 0.066, r_ratio: 1 },
    });
  });

  test("risk reasons precede gate reasons without a mode", () => {
    const p = policy({ max_notional_usd: 50 });
    expect(vr(intent({ expected_move_usd: 0, tp: 110 }), p)).toEqual(
      hold("NOTIONAL_TOO_LARGE", "EDGE_TOO_SMALL", "R_TOO_LOW"),
    );
  });

  test("SELL: several gates in order", () => {
    const w = windowWith([["BTCUSDT", T0 - 10 * SEC]]);
    expect(vr(sell({ qty: 0.1, tp: 95, model: "LightGBM" }), policy(), w)).toEqual(
      hold("MIN_NOTIONAL", "COOLDOWN", "R_TOO_LOW", "MODEL_REGIME_MISMATCH"),
    );
  });
});

describe("fail-closed input", () => {
  const INTENT = ["INVALID_INPUT:intent"];

  test("non-objects hold with INVALID_INPUT:intent, id null", () => {
    for (const input of [null, undefined, 0, 42, NaN, "BTCUSDT", "", true, false, [], [intent()], Symbol("x"), 10n, () => 1]) {
      const v = run(input);
      expect<unknown>([String(typeof input), v.verdict, v.reasons, v.id, v.enforced]).toEqual([
        String(typeof input),
        "HOLD",
        INTENT,
        null,
        true,
      ]);
      expect(v.metrics).toEqual({ notional: null, friction_usd: null, required_edge_usd: null, r_ratio: null });
    }
  });

  test("an empty object lists every required field in field order", () => {
    expect(vr({})).toEqual(
      hold(
        "INVALID_INPUT:id",
        "INVALID_INPUT:symbol",
        "INVALID_INPUT:side",
        "INVALID_INPUT:qty",
        "INVALID_INPUT:price",
        "INVALID_INPUT:tp",
        "INVALID_INPUT:sl",
        "INVALID_INPUT:expected_move_usd",
        "INVALID_INPUT:model",
        "INVALID_INPUT:regime",
        "INVALID_INPUT:ts",
      ),
    );
  });

  const REQUIRED = ["id", "symbol", "side", "qty", "price", "tp", "sl", "expected_move_usd", "model", "regime", "ts"];
  for (const field of REQUIRED) {
    test(`missing ${field} (absent, undefined or null) holds with INVALID_INPUT:${field} only`, () => {
      for (const input of [without(intent(), field), intent({ [field]: undefined }), intent({ [field]: null })]) {
        const v = run(input);
        expect([v.verdict, v.reasons, v.enforced]).toEqual(["HOLD", [`INVALID_INPUT:${field}`], true]);
        expect(v.id).toBe(field === "id" ? null : "i-1");
      }
    });
  }

  const NUMERIC = ["qty", "price", "tp", "sl", "expected_move_usd", "ts"];
  for (const field of NUMERIC) {
    test(`${field}: NaN, +-Infinity, numeric string, boolean, object hold with INVALID_INPUT:${field}`, () => {
      for (const bad of [NaN, Infinity, -Infinity, String(intent()[field]), true, {}, [1], new Number(1)]) {
        expect([String(bad), ...vr(intent({ [field]: bad }))]).toEqual([String(bad), ...hold(`INVALID_INPUT:${field}`)]);
      }
    });
  }

  test("qty <= 0 and price <= 0 hold", () => {
    for (const q of [0, -0, -1, -1e-300]) expect(vr(intent({ qty: q }))).toEqual(hold("INVALID_INPUT:qty"));
    for (const p of [0, -0, -100]) expect(vr(intent({ price: p }))).toEqual(hold("INVALID_INPUT:price"));
  });

  test("tp and sl must be positive", () => {
    expect(vr(sell({ tp: 0 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(sell({ tp: -5 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(intent({ sl: 0 }))).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr(intent({ sl: -5 }))).toEqual(hold("INVALID_INPUT:sl"));
  });

  test("expected_move_usd: negative holds, zero is valid input (then EDGE_TOO_SMALL)", () => {
    expect(vr(intent({ expected_move_usd: -0.01 }))).toEqual(hold("INVALID_INPUT:expected_move_usd"));
    expect(vr(intent({ expected_move_usd: 0 }))).toEqual(hold("EDGE_TOO_SMALL"));
  });

  test("BUY: tp at or below price and sl at or above price are on the wrong side", () => {
    expect(vr(intent({ tp: 100 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(intent({ tp: 95 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(intent({ sl: 100 }))).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr(intent({ sl: 110 }))).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr(intent({ tp: 90, sl: 125 }))).toEqual(hold("INVALID_INPUT:tp", "INVALID_INPUT:sl"));
  });

  test("SELL: tp at or above price and sl at or below price are on the wrong side", () => {
    expect(vr(sell({ tp: 100 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(sell({ tp: 125 }))).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr(sell({ sl: 100 }))).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr(sell({ sl: 90 }))).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr(sell({ tp: 125, sl: 90 }))).toEqual(hold("INVALID_INPUT:tp", "INVALID_INPUT:sl"));
  });

  test("unknown side and lowercase side", () => {
    for (const side of ["buy", "LONG", "", 1]) expect(vr(intent({ side }))).toEqual(hold("INVALID_INPUT:side"));
  });

  test("unknown regime", () => {
    for (const regime of ["SIDEWAYS", "trend", "", 0, ["TREND"]]) {
      expect(vr(intent({ regime }))).toEqual(hold("INVALID_INPUT:regime"));
    }
  });

  test("unknown model", () => {
    for (const model of ["GPT", "nhits", "", 1, ["NHiTS"]]) {
      expect(vr(intent({ model }))).toEqual(hold("INVALID_INPUT:model"));
    }
  });

  test("leverage <= 0, non-finite, non-number or null holds; absent is fine", () => {
    // null is what JSON makes of Infinity and NaN, so it must fail like them
    for (const leverage of [0, -1, NaN, Infinity, "2", null]) {
      expect(vr(intent({ leverage }))).toEqual(hold("INVALID_INPUT:leverage"));
    }
    expect(vr(intent({ leverage: 0.5 }))).toEqual(PASS);
  });

  test("ts in seconds, before 2000, fractional or unsafe holds; 2000-01-01T00:00:00Z is accepted", () => {
    for (const ts of [1_764_000_000, 946_684_799_999, T0 + 0.5, -T0, 2 ** 53, 1e300]) {
      expect([ts, ...vr(intent({ ts }))]).toEqual([ts, ...hold("INVALID_INPUT:ts")]);
    }
    expect(vr(intent({ ts: 946_684_800_000 }))).toEqual(PASS);
  });

  // The validator rejects seconds sent as milliseconds (ts before 2000) but has no upper
  // bound, so microseconds sent as milliseconds (a safe integer, year ~57,800) are accepted.
  test("ts in microseconds is rejected like ts in seconds", () => {
    expect(vr(intent({ ts: T0 * 1000 }))).toEqual(hold("INVALID_INPUT:ts"));
  });

  test("an accepted microsecond ts would escape a timed FREEZE and make every later intent STALE", () => {
    const frozen = policy({ mode: "FREEZE", freeze_until: T0 + HOUR });
    expect(vr(intent({ ts: T0 }), frozen)).toEqual(hold("FROZEN"));
    const micro = intent({ ts: T0 * 1000 });
    const v = run(micro, frozen);
    expect(v.verdict).toBe("HOLD"); // fails today: PASS, mode LIVE
    const w = new TradeWindow();
    if (countsAsTrade(v, micro)) w.recordTrade("BTCUSDT", T0 * 1000);
    expect(vr(intent({ symbol: "ETHUSDT", ts: T0 + 2 * HOUR }), policy(), w)).toEqual(PASS);
  });

  test("non-boolean reduce_only holds, null included; false is a normal trade", () => {
    for (const reduce_only of ["true", 1, 0, "false", {}, null]) {
      expect(vr(intent({ reduce_only }))).toEqual(hold("INVALID_INPUT:reduce_only"));
    }
    expect(vr(intent({ reduce_only: false }))).toEqual(PASS);
    // a non-boolean reduce_only is not an exit, so the trade plan is still required
    expect(vr(without(intent({ reduce_only: "true" }), "tp"))).toEqual(
      hold("INVALID_INPUT:tp", "INVALID_INPUT:reduce_only"),
    );
  });

  test("bad id and symbol", () => {
    for (const id of ["", "has space", "x".repeat(129), 7]) {
      const v = run(intent({ id }));
      expect([v.verdict, v.reasons, v.id]).toEqual(["HOLD", ["INVALID_INPUT:id"], null]);
    }
    for (const symbol of ["", "BTC USDT", "x".repeat(33), 7]) {
      expect(vr(intent({ symbol }))).toEqual(hold("INVALID_INPUT:symbol"));
    }
  });

  test("several invalid fields listed in field order, no gate reasons mixed in", () => {
    const v = run(intent({ qty: 0, price: -1, regime: "X", ts: 1_764_000_000, expected_move_usd: 0 }));
    expect(v.reasons).toEqual(["INVALID_INPUT:qty", "INVALID_INPUT:price", "INVALID_INPUT:regime", "INVALID_INPUT:ts"]);
  });

  test("invalid input in a halted mode lists only the input reasons, enforced, with the mode recorded", () => {
    const v = run(intent({ qty: -1 }), policy({ mode: "EMERGENCY" }));
    expect([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["HOLD", ["INVALID_INPUT:qty"], true, "EMERGENCY"]);
  });

  test("invalid input under audit enforcement stays enforced", () => {
    const v = run(intent({ regime: "X" }), policy({ enforcement: "audit" }));
    expect([v.verdict, v.reasons, v.enforced]).toEqual(["HOLD", ["INVALID_INPUT:regime"], true]);
    expect(isAuthorised(v)).toBe(false);
  });

  test("a getter-free frozen or null-prototype object is evaluated normally", () => {
    const np = Object.assign(Object.create(null), intent());
    expect(vr(np)).toEqual(PASS);
    expect(vr(Object.freeze(intent()))).toEqual(PASS);
  });
});

describe("risk limits from policy", () => {
  test("max_leverage: equal passes, above holds, absent leverage counts as 1", () => {
    const p = policy({ max_leverage: 3 });
    expect(vr(intent({ leverage: 3 }), p)).toEqual(PASS);
    expect(vr(intent({ leverage: 3.01 }), p)).toEqual(hold("LEVERAGE_TOO_HIGH"));
    expect(vr(intent(), p)).toEqual(PASS);
    const half = policy({ max_leverage: 0.5 });
    expect(vr(intent(), half)).toEqual(hold("LEVERAGE_TOO_HIGH"));
    expect(vr(intent({ leverage: 0.5 }), half)).toEqual(PASS);
  });

  test("max_notional_usd: equal passes, above holds", () => {
    const p = policy({ max_notional_usd: 100 });
    expect(vr(intent(), p)).toEqual(PASS);
    expect(vr(intent({ qty: 1.01 }), p)).toEqual(hold("NOTIONAL_TOO_LARGE"));
    // float: 0.14 x 700 is 98.00000000000001 in binary, against a limit of 98
    const f = intent({ price: 0.14, qty: 700, tp: 0.4, sl: 0.1 });
    expect(run(f).metrics.notional).toBe(98.00000000000001);
    expect(vr(f, policy({ max_notional_usd: 98 }))).toEqual(PASS);
    expect(vr(f, policy({ max_notional_usd: 97.99 }))).toEqual(hold("NOTIONAL_TOO_LARGE"));
  });

  test("active_symbols: listed symbol passes, others hold; null means all", () => {
    const p = policy({ active_symbols: ["BTCUSDT", "ETHUSDT"] });
    expect(vr(intent(), p)).toEqual(PASS);
    expect(vr(intent({ symbol: "SOLUSDT" }), p)).toEqual(hold("SYMBOL_NOT_ACTIVE"));
    expect(vr(intent({ symbol: "SOLUSDT" }), policy({ active_symbols: null }))).toEqual(PASS);
    expect(vr(intent(), policy({ active_symbols: [] }))).toEqual(hold("SYMBOL_NOT_ACTIVE"));
  });

  test("model_weights: weight 0 is MODEL_DISABLED; positive or unlisted weights pass", () => {
    const p = policy({ model_weights: { NHiTS: 0, PatchTST: 0.5 } });
    expect(vr(intent(), p)).toEqual(hold("MODEL_DISABLED"));
    expect(vr(intent({ model: "PatchTST" }), p)).toEqual(PASS);
    expect(vr(intent(), policy({ model_weights: { PatchTST: 0 } }))).toEqual(PASS);
    expect(vr(intent(), policy({ model_weights: { NHiTS: 0.01 } }))).toEqual(PASS);
  });

  test("risk limits apply to SELL too, in order", () => {
    const p = policy({ active_symbols: ["ETHUSDT"], model_weights: { NHiTS: 0 }, max_leverage: 2, max_notional_usd: 50 });
    expect(vr(sell({ leverage: 4 }), p)).toEqual(
      hold("SYMBOL_NOT_ACTIVE", "MODEL_DISABLED", "LEVERAGE_TOO_HIGH", "NOTIONAL_TOO_LARGE"),
    );
  });

  test("risk HOLDs are waived under audit enforcement", () => {
    const v = run(intent({ leverage: 10 }), policy({ max_leverage: 2, enforcement: "audit" }));
    expect([v.verdict, v.reasons, v.enforced, isAuthorised(v)]).toEqual(["HOLD", ["LEVERAGE_TOO_HIGH"], false, true]);
  });
});

describe("modes", () => {
  test("SHADOW: HOLD with MODE_SHADOW alone when gates pass", () => {
    const v = run(intent(), policy({ mode: "SHADOW" }));
    expect([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["HOLD", ["MODE_SHADOW"], true, "SHADOW"]);
  });

  test("SHADOW: MODE_SHADOW first, then gate failures", () => {
    const w = windowWith([["BTCUSDT", T0 - SEC]]);
    expect(vr(intent({ expected_move_usd: 0, model: "XGBoost" }), policy({ mode: "SHADOW" }), w)).toEqual(
      hold("MODE_SHADOW", "EDGE_TOO_SMALL", "COOLDOWN", "MODEL_REGIME_MISMATCH"),
    );
  });

  test("SHADOW: reduce_only also holds, enforced", () => {
    const v = run(intent({ reduce_only: true }), policy({ mode: "SHADOW" }));
    expect([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["HOLD", ["MODE_SHADOW"], true, "SHADOW"]);
    const bare = run(without(intent({ reduce_only: true }), "tp", "sl", "model", "regime", "expected_move_usd"), policy({ mode: "SHADOW" }));
    expect([bare.verdict, bare.reasons]).toEqual(["HOLD", ["MODE_SHADOW"]]);
  });

  test("PAUSED and EMERGENCY hold with their reason first", () => {
    for (const [mode, reason] of [
      ["PAUSED", "MODE_PAUSED"],
      ["EMERGENCY", "MODE_EMERGENCY"],
    ] as const) {
      const v = run(intent(), policy({ mode }));
      expect([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["HOLD", [reason], true, mode]);
      expect(vr(intent({ tp: 110 }), policy({ mode }))).toEqual(hold(reason, "R_TOO_LOW"));
    }
  });

  test("LIVE after PAUSED restores normal evaluation", () => {
    const paused = policy({ mode: "PAUSED" });
    const r = applyPolicyUpdate(paused, { mode: "LIVE" });
    expect(r.ok).toBe(true);
    if (r.ok) expect(vr(intent(), r.policy)).toEqual(PASS);
  });

  test("FREEZE until a time: FROZEN before, normal at and after", () => {
    const p = policy({ mode: "FREEZE", freeze_until: T0 + 60 * SEC });
    const before = run(intent({ ts: T0 + 59_999 }), p);
    expect([before.verdict, before.reasons, before.enforced, before.mode]).toEqual(["HOLD", ["FROZEN"], true, "FREEZE"]);
    const at = run(intent({ ts: T0 + 60 * SEC }), p);
    expect([at.verdict, at.reasons, at.mode]).toEqual(["PASS", [], "LIVE"]);
    expect(vr(intent({ ts: T0 + 3600 * SEC }), p)).toEqual(PASS);
  });

  test("FREEZE ends into the base mode (PAUSED stays PAUSED)", () => {
    const paused = policy({ mode: "PAUSED" });
    const r = applyPolicyUpdate(paused, { mode: "FREEZE", freeze_until: T0 + 1 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(run(intent({ ts: T0 }), r.policy).reasons).toEqual(["FROZEN"]);
    const after = run(intent({ ts: T0 + 1 }), r.policy);
    expect([after.reasons, after.mode]).toEqual([["MODE_PAUSED"], "PAUSED"]);
  });

  test("indefinite freeze holds at any time", () => {
    const p = policy({ mode: "FREEZE" });
    for (const ts of [T0, T0 + 10 ** 12, 946_684_800_000]) {
      const v = run(intent({ ts }), p);
      expect([v.verdict, v.reasons, v.mode]).toEqual(["HOLD", ["FROZEN"], "FREEZE"]);
    }
    expect(vr(intent({ tp: 110 }), policy({ mode: "FREEZE", freeze_until: null }))).toEqual(hold("FROZEN", "R_TOO_LOW"));
  });

  test("reduce_only passes in LIVE, PAUSED, EMERGENCY and FREEZE even with every gate failing", () => {
    const w = windowWith([
      ["BTCUSDT", T0 - 3 * SEC],
      ["ETHUSDT", T0 - 2 * SEC],
      ["SOLUSDT", T0 - 1 * SEC],
    ]);
    const exit = intent({ reduce_only: true, qty: 0.01, expected_move_usd: 0, tp: 101, model: "XGBoost" });
    const policies: Array<[string, KernelPolicy]> = [
      ["LIVE", policy()],
      ["PAUSED", policy({ mode: "PAUSED" })],
      ["EMERGENCY", policy({ mode: "EMERGENCY" })],
      ["FREEZE", policy({ mode: "FREEZE" })],
      ["FREEZE", policy({ mode: "FREEZE", freeze_until: T0 + 1 })],
    ];
    for (const [mode, p] of policies) {
      const v = run(exit, p, w);
      expect<unknown>([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["PASS", [], true, mode]);
      expect(v.metrics).toEqual({ notional: 1, friction_usd: 0.0022, required_edge_usd: 0.0066, r_ratio: null });
    }
  });

  test("reduce_only passes risk limits too", () => {
    const p = policy({ active_symbols: ["ETHUSDT"], model_weights: { NHiTS: 0 }, max_leverage: 1, max_notional_usd: 1 });
    expect(vr(intent({ reduce_only: true, leverage: 20 }), p)).toEqual(PASS);
  });

  test("reduce_only passes with tp, sl, model, regime and expected move missing", () => {
    const bare = without(intent({ reduce_only: true }), "tp", "sl", "model", "regime", "expected_move_usd");
    for (const mode of ["LIVE", "PAUSED", "EMERGENCY"] as const) {
      expect(vr(bare, policy({ mode }))).toEqual(PASS);
    }
    expect(vr(bare, policy({ mode: "FREEZE" }))).toEqual(PASS);
    // present-but-null fields are checked like any present field
    expect(vr({ ...bare, tp: null, sl: null, model: null, regime: null }, policy({ mode: "PAUSED" }))).toEqual(
      hold("INVALID_INPUT:tp", "INVALID_INPUT:sl", "INVALID_INPUT:model", "INVALID_INPUT:regime"),
    );
  });

  test("reduce_only still needs id, symbol, side, qty, price, ts and valid present fields", () => {
    const exit = intent({ reduce_only: true });
    for (const f of ["id", "symbol", "side", "qty", "price", "ts"]) {
      expect(vr(without(exit, f))).toEqual(hold(`INVALID_INPUT:${f}`));
    }
    expect(vr({ ...exit, tp: 90 })).toEqual(hold("INVALID_INPUT:tp"));
    expect(vr({ ...exit, sl: 110 })).toEqual(hold("INVALID_INPUT:sl"));
    expect(vr({ ...exit, model: "GPT" })).toEqual(hold("INVALID_INPUT:model"));
    expect(vr({ ...exit, regime: "X" })).toEqual(hold("INVALID_INPUT:regime"));
    expect(vr({ ...exit, expected_move_usd: -1 })).toEqual(hold("INVALID_INPUT:expected_move_usd"));
  });

  test("audit enforcement: gate HOLD is not enforced", () => {
    const v = run(intent({ expected_move_usd: 0 }), policy({ enforcement: "audit" }));
    expect([v.verdict, v.reasons, v.enforced, v.mode]).toEqual(["HOLD", ["EDGE_TOO_SMALL"], false, "LIVE"]);
  });

  test("audit enforcement: a PASS stays a PASS, enforced true", () => {
    const v = run(intent(), policy({ enforcement: "audit" }));
    expect([v.verdict, v.reasons, v.enforced]).toEqual(["PASS", [], true]);
  });

  test("audit enforcement: a mode HOLD stays enforced (with or without gate failures)", () => {
    for (const mode of ["SHADOW", "PAUSED", "EMERGENCY", "FREEZE"] as const) {
      const p = policy({ mode, enforcement: "audit" });
      const clean = run(intent(), p);
      const dirty = run(intent({ tp: 110 }), p);
      expect([mode, clean.enforced, dirty.enforced, dirty.reasons.length]).toEqual([mode, true, true, 2]);
    }
  });

  test("audit enforcement: invalid input and stale intent stay enforced", () => {
    const p = policy({ enforcement: "audit" });
    expect(run(intent({ qty: 0 }), p).enforced).toBe(true);
    const w = windowWith([["ETHUSDT", T0]]);
    const stale = run(intent({ ts: T0 - 1_800_001 }), p, w);
    expect([stale.reasons, stale.enforced]).toEqual([["STALE_INTENT"], true]);
  });
});

describe("STALE_INTENT", () => {
  test("more than 1_800_000 ms older than the newest trade holds; exactly 1_800_000 is judged", () => {
    const w = windowWith([["ETHUSDT", T0]]);
    const v = run(intent({ ts: T0 - 1_800_001 }), policy(), w);
    expect(v).toEqual({
      id: "i-1",
      verdict: "HOLD",
      reasons: ["STALE_INTENT"],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: 100, friction_usd: 0.22, required_edge_usd: 0.66, r_ratio: 2.5 },
    });
    expect(vr(intent({ ts: T0 - 1_800_000 }), policy(), w)).toEqual(PASS);
  });

  test("staleness is measured from the newest trade, not the newest close", () => {
    const w = windowWith([], [["ETHUSDT", T0]]);
    expect(vr(intent({ ts: T0 - 3_600_000 }), policy(), w)).toEqual(PASS);
  });

  test("stale replaces gate reasons; newer trades on other symbols count", () => {
    const w = windowWith([
      ["ETHUSDT", T0 - 3_600_000],
      ["SOLUSDT", T0],
    ]);
    expect(vr(intent({ ts: T0 - 1_900_000, tp: 110, expected_move_usd: 0 }), policy(), w)).toEqual(hold("STALE_INTENT"));
  });

  test("a stale reduce_only exit still passes", () => {
    const w = windowWith([["ETHUSDT", T0]]);
    expect(vr(intent({ ts: T0 - 10_000_000, reduce_only: true }), policy(), w)).toEqual(PASS);
  });
});

describe("isAuthorised / countsAsTrade", () => {
  test("PASS is authorised and counts as a trade", () => {
    const input = intent();
    const v = run(input);
    expect([isAuthorised(v), countsAsTrade(v, input)]).toEqual([true, true]);
  });

  test("an enforced HOLD is not authorised and does not count", () => {
    const input = intent({ expected_move_usd: 0 });
    const v = run(input);
    expect([isAuthorised(v), countsAsTrade(v, input)]).toEqual([false, false]);
  });

  test("an audit-waived HOLD is authorised and counts as a trade", () => {
    const input = intent({ expected_move_usd: 0 });
    const v = run(input, policy({ enforcement: "audit" }));
    expect([v.enforced, isAuthorised(v), countsAsTrade(v, input)]).toEqual([false, true, true]);
  });

  test("a reduce_only PASS is authorised but does not count as a trade", () => {
    const input = intent({ reduce_only: true });
    const v = run(input, policy({ mode: "PAUSED" }));
    expect([v.verdict, isAuthorised(v), countsAsTrade(v, input)]).toEqual(["PASS", true, false]);
  });

  test("a mode HOLD under audit is not authorised", () => {
    const input = intent();
    const v = run(input, policy({ mode: "EMERGENCY", enforcement: "audit" }));
    expect([isAuthorised(v), countsAsTrade(v, input)]).toEqual([false, false]);
  });

  test("countsAsTrade on an invalid non-object input does not throw", () => {
    for (const input of [null, undefined, 5]) {
      const v = run(input);
      expect(countsAsTrade(v, input)).toBe(false);
    }
  });

  test("on hand-built verdicts", () => {
    const base: Verdict = {
      id: "x",
      verdict: "PASS",
      reasons: [],
      enforced: true,
      mode: "LIVE",
      metrics: { notional: null, friction_usd: null, required_edge_usd: null, r_ratio: null },
    };
    expect(isAuthorised(base)).toBe(true);
    expect(isAuthorised({ ...base, verdict: "HOLD", reasons: ["COOLDOWN"] })).toBe(false);
    expect(isAuthorised({ ...base, verdict: "HOLD", reasons: ["COOLDOWN"], enforced: false })).toBe(true);
    expect(countsAsTrade(base, { reduce_only: false })).toBe(true);
    expect(countsAsTrade(base, { reduce_only: true })).toBe(false);
    expect(countsAsTrade(base, { reduce_only: "true" })).toBe(true);
  });

  test("following countsAsTrade keeps the window consistent: pass, cooldown, then rate limit", () => {
    const w = new TradeWindow();
    const ctx = compileContext(DEFAULT_CONFIG, policy());
    const feed = (input: Record<string, unknown>): unknown => {
      const v = evaluate(input, ctx, w);
      if (countsAsTrade(v, input)) w.recordTrade(input.symbol as string, input.ts as number);
      return [v.verdict, v.reasons];
    };
    expect<unknown>(feed(intent({ id: "a", ts: T0 }))).toEqual(PASS);
    expect<unknown>(feed(intent({ id: "b", ts: T0 + 1000 }))).toEqual(hold("COOLDOWN"));
    expect(feed(intent({ id: "c", symbol: "ETHUSDT", ts: T0 + 2000 }))).toEqual(PASS);
    expect(feed(intent({ id: "d", symbol: "ETHUSDT", ts: T0 + 3000, reduce_only: true }))).toEqual(PASS);
    expect(feed(intent({ id: "e", symbol: "SOLUSDT", ts: T0 + 4000 }))).toEqual(PASS);
    expect(feed(intent({ id: "f", symbol: "XRPUSDT", ts: T0 + 5000 }))).toEqual(hold("RATE_LIMIT"));
    expect(feed(intent({ id: "g", symbol: "XRPUSDT", ts: T0 + 600_000 }))).toEqual(PASS);
  });
});

describe("TradeWindow.wouldExceedRate", () => {
  test("MAX_TRADES 0: any trade exceeds, even with an empty window", () => {
    const w = new TradeWindow();
    expect(w.wouldExceedRate(T0, 0)).toBe(true);
    w.recordTrade("A", T0 - 3_600_000);
    expect(w.wouldExceedRate(T0, 0)).toBe(true);
  });

  test("MAX_TRADES 1: empty window allows one; one trade blocks anything within 600 s either side", () => {
    const w = new TradeWindow();
    expect(w.wouldExceedRate(T0, 1)).toBe(false);
    w.recordTrade("A", T0);
    expect(w.wouldExceedRate(T0, 1)).toBe(true);
    expect(w.wouldExceedRate(T0 + 599_999, 1)).toBe(true);
    expect(w.wouldExceedRate(T0 - 599_999, 1)).toBe(true);
    expect(w.wouldExceedRate(T0 + 600_000, 1)).toBe(false);
    expect(w.wouldExceedRate(T0 - 600_000, 1)).toBe(false);
  });

  test("MAX_TRADES 1: between two trades 1200 s apart only the exact midpoint fits", () => {
    const w = windowWith([
      ["A", T0],
      ["B", T0 + 1_200_000],
    ]);
    expect(w.wouldExceedRate(T0 + 600_000, 1)).toBe(false);
    expect(w.wouldExceedRate(T0 + 599_999, 1)).toBe(true);
    expect(w.wouldExceedRate(T0 + 600_001, 1)).toBe(true);
  });

  test("MAX_TRADES 3 with duplicates at one instant", () => {
    const w = windowWith([
      ["A", T0],
      ["B", T0],
      ["C", T0],
    ]);
    expect(w.wouldExceedRate(T0, 3)).toBe(true);
    expect(w.wouldExceedRate(T0 + 599_999, 3)).toBe(true);
    expect(w.wouldExceedRate(T0 + 600_000, 3)).toBe(false);
    expect(w.wouldExceedRate(T0 - 600_000, 3)).toBe(false);
    expect(w.wouldExceedRate(T0 - 599_999, 3)).toBe(true);
    expect(w.wouldExceedRate(T0, 4)).toBe(false);
  });

  test("old trades are pruned once far behind the newest, and compaction keeps results", () => {
    const w = new TradeWindow();
    for (let k = 0; k < 3000; k++) w.recordTrade(`S${k % 7}`, T0 + k * 700_000); // 700 s apart: never 2 in a window
    const last = T0 + 2999 * 700_000;
    expect(w.wouldExceedRate(last + 600_000, 1)).toBe(false);
    expect(w.wouldExceedRate(last + 100_000, 1)).toBe(true);
    expect(w.wouldExceedRate(last - 350_000, 1)).toBe(true);
    expect(w.wouldExceedRate(last - 350_000, 2)).toBe(false);
    expect(w.retainFrom()).toBe(last - 1_800_000 - 600_000);
  });
});

describe("purity", () => {
  // The file header promises: "the same intent, config, policy and history always
  // give the same verdict". An intent without a usable ts once took its mode from the
  // wall clock (`Date.now()`); this guards against that coming back.
  test("an invalid intent without ts gets the same verdict whatever the wall clock says", () => {
    const p = policy({ mode: "FREEZE", freeze_until: T0 });
    const input = without(intent(), "ts");
    try {
      setSystemTime(new Date(T0 - 1));
      const before = run(input, p);
      setSystemTime(new Date(T0 + 1));
      const after = run(input, p);
      expect(after).toEqual(before);
    } finally {
      setSystemTime();
    }
  });
});
