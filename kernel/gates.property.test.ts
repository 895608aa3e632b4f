import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DEFAULT_CONFIG, type GateConfig } from "./config.ts";
import { compileContext, countsAsTrade, evaluate, isAuthorised } from "./gates.ts";
import { DEFAULT_POLICY, applyPolicyUpdate, type KernelPolicy, type PolicyUpdate } from "./policy.ts";
import { Account } from "./account.ts";
import { TradeWindow } from "./trade-window.ts";
import { ACCOUNT_REASONS, ESS_STATES, GATE_REASONS, MODE_REASONS, RISK_REASONS, type Verdict } from "./types.ts";

const T0 = 1_764_000_000_000;
const HOUR = 3_600_000;
const W = 600_000; // rate window
const STALE = 1_800_000;
const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"] as const;
const MODELS = ["NHiTS", "PatchTST", "XGBoost", "LightGBM"] as const;
const REGIMES = ["TREND", "RANGE", "HIGH_VOL", "LOW_VOL"] as const;
type Regime = (typeof REGIMES)[number];

/** The allow table, written out independently of config.ts. */
const ALLOWED: Record<Regime, readonly string[]> = {
  TREND: ["NHiTS", "PatchTST"],
  RANGE: ["XGBoost", "LightGBM"],
  HIGH_VOL: ["XGBoost"],
  LOW_VOL: ["PatchTST"],
};
const MIN_R_KEY: Record<Regime, keyof GateConfig> = {
  TREND: "MIN_R_TREND",
  RANGE: "MIN_R_RANGE",
  HIGH_VOL: "MIN_R_HIGH_VOL",
  LOW_VOL: "MIN_R_LOW_VOL",
};

/** The same inclusive comparison with a 1e-9 relative tolerance that gates.ts documents. */
function atLeast(value: number, minimum: number): boolean {
  return value >= minimum - Math.abs(minimum) * 1e-9;
}

const WAIVABLE = new Set<string>([...GATE_REASONS, ...RISK_REASONS]);
const MODE_SET = new Set<string>(MODE_REASONS);

// ---------------------------------------------------------------- arbitraries

const policyUpdateArb: fc.Arbitrary<PolicyUpdate> = fc
  .record(
    {
      mode: fc.oneof(
        { arbitrary: fc.constant("LIVE" as const), weight: 6 },
        { arbitrary: fc.constantFrom("SHADOW" as const, "PAUSED" as const, "EMERGENCY" as const, "FREEZE" as const), weight: 2 },
      ),
      freeze_until: fc.option(fc.integer({ min: T0 - HOUR, max: T0 + HOUR }), { nil: null }),
      enforcement: fc.constantFrom("enforce" as const, "audit" as const),
      max_leverage: fc.option(fc.double({ min: 0.5, max: 20, noNaN: true }), { nil: null }),
      max_notional_usd: fc.option(fc.double({ min: 10, max: 5000, noNaN: true }), { nil: null }),
      active_symbols: fc.option(fc.subarray([...SYMBOLS, "XRPUSDT"]), { nil: null }),
      model_weights: fc.option(fc.dictionary(fc.constantFrom(...MODELS), fc.constantFrom(0, 0.25, 1)), { nil: null }),
      thresholds: fc.record(
        {
          MIN_NOTIONAL_USD: fc.oneof(fc.constant(0), fc.double({ min: 1, max: 200, noNaN: true })),
          EDGE_MULTIPLIER: fc.double({ min: 0, max: 5, noNaN: true }),
          FEES_BPS: fc.integer({ min: 0, max: 30 }),
          NOISE_BPS: fc.double({ min: 0, max: 10, noNaN: true }),
          MIN_HOLD_SECONDS: fc.integer({ min: 0, max: 900 }),
          MAX_TRADES_10MIN: fc.integer({ min: 0, max: 5 }),
          MIN_R_TREND: fc.double({ min: 0.5, max: 4, noNaN: true }),
          MIN_R_RANGE: fc.double({ min: 0.5, max: 4, noNaN: true }),
          MIN_R_HIGH_VOL: fc.double({ min: 0.5, max: 4, noNaN: true }),
          MIN_R_LOW_VOL: fc.double({ min: 0.5, max: 4, noNaN: true }),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: [] },
  )
  .map((u) => {
    const update: PolicyUpdate = { ...u };
    if (u.mode !== "FREEZE") delete update.freeze_until;
    else if (u.freeze_until === null) delete update.freeze_until; // indefinite freeze
    return update;
  });

function toPolicy(update: PolicyUpdate): KernelPolicy {
  const r = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!r.ok) throw new Error(`generator made an invalid policy: ${r.violations.join("; ")}`);
  return r.policy;
}

interface HistoryEvent {
  kind: "trade" | "close";
  symbol: string;
  ts: number;
}

const historyArb: fc.Arbitrary<HistoryEvent[]> = fc.array(
  fc.record({
    kind: fc.constantFrom("trade" as const, "close" as const),
    symbol: fc.constantFrom(...SYMBOLS),
    ts: fc.integer({ min: T0 - 45 * 60_000, max: T0 + 45 * 60_000 }),
  }),
  { maxLength: 12 },
);

function windowFrom(history: HistoryEvent[]): TradeWindow {
  const w = new TradeWindow();
  for (const e of history) {
    if (e.kind === "trade") w.recordTrade(e.symbol, e.ts);
    else w.recordClose(e.symbol, e.ts);
  }
  return w;
}

/** A plan for a well-formed intent; `resolve` turns it into one against a config (for boundary hits). */
interface IntentPlan {
  id: string;
  side: "BUY" | "SELL";
  symbol: string;
  regime: Regime;
  model: string | "allowed";
  price: number;
  /** The notional aimed at (qty = notional / price), or exactly MIN_NOTIONAL_USD. */
  notional: number | "atMin";
  r: number | "atMin";
  slFrac: number;
  move: number | "atRequired" | "justBelow";
  leverage: number | undefined;
  reduce_only: boolean | undefined;
  ts: number;
  /** Optionally put ts exactly on (or 1 ms off) a boundary set by the history or the freeze. */
  anchor: { index: number; at: Anchor } | null;
}

const ANCHORS = ["same", "+hold", "+hold-1", "+W", "+W-1", "-W", "-W+1", "-stale", "-stale-1", "freeze", "freeze-1"] as const;
type Anchor = (typeof ANCHORS)[number];

const planArb: fc.Arbitrary<IntentPlan> = fc.record({
  id: fc.stringMatching(/^[!-~]{1,16}$/),
  side: fc.constantFrom("BUY" as const, "SELL" as const),
  symbol: fc.constantFrom(...SYMBOLS),
  regime: fc.constantFrom(...REGIMES),
  model: fc.oneof(fc.constant("allowed" as const), fc.constantFrom(...MODELS)),
  price: fc.oneof(fc.double({ min: 0.01, max: 100_000, noNaN: true }), fc.constantFrom(0.1, 1.1, 100, 25)),
  notional: fc.oneof(fc.double({ min: 1, max: 3000, noNaN: true }), fc.constant("atMin" as const)),
  r: fc.oneof(fc.double({ min: 0.3, max: 6, noNaN: true }), fc.constant("atMin" as const)),
  slFrac: fc.double({ min: 0.001, max: 0.15, noNaN: true }),
  move: fc.oneof(
    fc.double({ min: 0, max: 50, noNaN: true }),
    fc.double({ min: 50, max: 500, noNaN: true }),
    fc.constant("atRequired" as const),
    fc.constant("justBelow" as const),
  ),
  leverage: fc.option(fc.double({ min: 0.5, max: 10, noNaN: true }), { nil: undefined }),
  reduce_only: fc.constantFrom(undefined, false, true, undefined, undefined),
  // mostly late enough not to be stale behind the history, sometimes well behind it
  ts: fc.oneof(
    { arbitrary: fc.integer({ min: T0 - 10 * 60_000, max: T0 + 50 * 60_000 }), weight: 4 },
    { arbitrary: fc.integer({ min: T0 - 45 * 60_000, max: T0 + 45 * 60_000 }), weight: 1 },
  ),
  anchor: fc.option(fc.record({ index: fc.nat(), at: fc.constantFrom(...ANCHORS) }), { nil: null, freq: 2 }),
});

/** The plan's ts, moved onto a boundary of the history or the policy when it asks for one. */
function planTs(plan: IntentPlan, config: GateConfig, history: HistoryEvent[] = [], update: PolicyUpdate = {}): number {
  const a = plan.anchor;
  if (!a) return plan.ts;
  if (a.at === "freeze" || a.at === "freeze-1") {
    const until = update.mode === "FREEZE" ? update.freeze_until : undefined;
    return typeof until === "number" ? until - (a.at === "freeze-1" ? 1 : 0) : plan.ts;
  }
  if (history.length === 0) return plan.ts;
  const base = history[a.index % history.length]!.ts;
  const hold = config.MIN_HOLD_SECONDS * 1000;
  const delta: Record<Exclude<Anchor, "freeze" | "freeze-1">, number> = {
    same: 0,
    "+hold": hold,
    "+hold-1": hold - 1,
    "+W": W,
    "+W-1": W - 1,
    "-W": -W,
    "-W+1": -W + 1,
    "-stale": -STALE,
    "-stale-1": -STALE - 1,
  };
  const newest = Math.max(...history.filter((e) => e.kind === "trade").map((e) => e.ts));
  return a.at === "-stale" || a.at === "-stale-1" ? (Number.isFinite(newest) ? newest : base) + delta[a.at] : base + delta[a.at];
}

function resolve(plan: IntentPlan, config: GateConfig, history?: HistoryEvent[], update?: PolicyUpdate): Record<string, unknown> {
  const { price, side } = plan;
  const target = plan.notional === "atMin" ? config.MIN_NOTIONAL_USD || 25 : plan.notional;
  const qty = target / price;
  const minR = config[MIN_R_KEY[plan.regime]] as number;
  const r = plan.r === "atMin" ? minR : plan.r;
  const risk = price * plan.slFrac;
  const sl = side === "BUY" ? price - risk : price + risk;
  const tp = side === "BUY" ? price + risk * r : price - risk * r;
  const notional = price * qty;
  const bps = config.FEES_BPS + config.FUNDING_BPS + config.SLIPPAGE_BPS + config.NOISE_BPS;
  const required = ((notional * bps) / 10_000) * config.EDGE_MULTIPLIER;
  const move = plan.move === "atRequired" ? required : plan.move === "justBelow" ? required * (1 - 1e-6) : plan.move;
  const intent: Record<string, unknown> = {
    id: plan.id,
    symbol: plan.symbol,
    side,
    qty,
    price,
    tp,
    sl,
    expected_move_usd: move,
    model: plan.model === "allowed" ? ALLOWED[plan.regime][plan.id.length % ALLOWED[plan.regime].length] : plan.model,
    regime: plan.regime,
    ts: planTs(plan, config, history, update),
  };
  if (plan.leverage !== undefined) intent.leverage = plan.leverage;
  if (plan.reduce_only !== undefined) intent.reduce_only = plan.reduce_only;
  return intent;
}

/** True if the plan resolved to an intent the validator must accept (tp/sl strictly on their side, all positive). */
function wellFormed(i: Record<string, unknown>): boolean {
  const n = (k: string) => i[k] as number;
  const pos = (k: string) => Number.isFinite(n(k)) && n(k) > 0;
  if (!["qty", "price", "tp", "sl"].every(pos)) return false;
  if (!(Number.isFinite(n("expected_move_usd")) && n("expected_move_usd") >= 0)) return false;
  return i.side === "BUY" ? n("tp") > n("price") && n("sl") < n("price") : n("tp") < n("price") && n("sl") > n("price");
}

// ---------------------------------------------------------------- an independent model of the rules

interface Expected {
  verdict: "PASS" | "HOLD";
  reasons: string[];
  enforced: boolean;
  mode: string;
}

function modelOf(history: HistoryEvent[]) {
  const trades = history.filter((e) => e.kind === "trade").map((e) => e.ts);
  const lastOf = (kind: string, symbol: string) => {
    const times = history.filter((e) => e.kind === kind && e.symbol === symbol).map((e) => e.ts);
    return times.length ? Math.max(...times) : undefined;
  };
  return {
    trades,
    newest: trades.length ? Math.max(...trades) : -Infinity,
    cooldownFrom(symbol: string): number | undefined {
      const t = lastOf("trade", symbol);
      const c = lastOf("close", symbol);
      if (t === undefined) return c;
      if (c === undefined) return t;
      return Math.max(t, c);
    },
    /** Brute force: is there a half-open 600 s window containing ts with more than max trades once ts is added? */
    wouldExceed(ts: number, max: number): boolean {
      for (const s of [...trades, ts]) {
        if (!(s <= ts && ts < s + W)) continue;
        const count = trades.filter((t) => s <= t && t < s + W).length + 1;
        if (count > max) return true;
      }
      return false;
    },
  };
}

function modeAtModel(update: PolicyUpdate, ts: number): string {
  if (update.mode === "FREEZE") {
    const until = update.freeze_until ?? null;
    return until === null || ts < until ? "FREEZE" : "LIVE";
  }
  return update.mode ?? "LIVE";
}

function expectedVerdict(i: Record<string, unknown>, update: PolicyUpdate, history: HistoryEvent[], halt: "OFFLINE" | null = null): Expected {
  const config: GateConfig = { ...DEFAULT_CONFIG, ...(update.thresholds as Partial<GateConfig>) };
  const ts = i.ts as number;
  const mode = modeAtModel(update, ts);
  const modeReason = { SHADOW: "MODE_SHADOW", PAUSED: "MODE_PAUSED", EMERGENCY: "MODE_EMERGENCY", FREEZE: "FROZEN" }[
    mode as "SHADOW"
  ] as string | undefined;
  if (i.reduce_only === true) {
    return mode === "SHADOW"
      ? { verdict: "HOLD", reasons: ["MODE_SHADOW"], enforced: true, mode }
      : { verdict: "PASS", reasons: [], enforced: true, mode };
  }
  const m = modelOf(history);
  if (ts < m.newest - STALE) return { verdict: "HOLD", reasons: ["STALE_INTENT"], enforced: true, mode };

  const price = i.price as number;
  const notional = price * (i.qty as number);
  const bps = config.FEES_BPS + config.FUNDING_BPS + config.SLIPPAGE_BPS + config.NOISE_BPS;
  const required = ((notional * bps) / 10_000) * config.EDGE_MULTIPLIER;
  const r = Math.abs((i.tp as number) - price) / Math.abs(price - (i.sl as number));
  const regime = i.regime as Regime;
  const symbol = i.symbol as string;
  const model = i.model as string;

  const reasons: string[] = [];
  if (modeReason) reasons.push(modeReason);
  if (halt) reasons.push(halt);
  if (update.active_symbols && !update.active_symbols.includes(symbol)) reasons.push("SYMBOL_NOT_ACTIVE");
  if (update.model_weights && Object.hasOwn(update.model_weights, model) && update.model_weights[model] === 0) {
    reasons.push("MODEL_DISABLED");
  }
  if (update.max_leverage != null && !atLeast(update.max_leverage, (i.leverage as number | undefined) ?? 1)) {
    reasons.push("LEVERAGE_TOO_HIGH");
  }
  // STRATEGY_ALLOCATION (issue 11): a model's weight scales the cap (0 disables instead).
  const weight = update.model_weights && Object.hasOwn(update.model_weights, model) ? update.model_weights[model]! : 1;
  const cap = update.max_notional_usd == null ? null : update.max_notional_usd * (weight === 0 ? 1 : weight);
  if (cap !== null && !atLeast(cap, notional)) reasons.push("NOTIONAL_TOO_LARGE");
  if (!atLeast(notional, config.MIN_NOTIONAL_USD)) reasons.push("MIN_NOTIONAL");
  if (!atLeast(i.expected_move_usd as number, required)) reasons.push("EDGE_TOO_SMALL");
  const from = m.cooldownFrom(symbol);
  if (from !== undefined && ts - from < config.MIN_HOLD_SECONDS * 1000) reasons.push("COOLDOWN");
  if (m.wouldExceed(ts, config.MAX_TRADES_10MIN)) reasons.push("RATE_LIMIT");
  if (!atLeast(r, config[MIN_R_KEY[regime]] as number)) reasons.push("R_TOO_LOW");
  if (!ALLOWED[regime].includes(model)) reasons.push("MODEL_REGIME_MISMATCH");

  if (reasons.length === 0) return { verdict: "PASS", reasons, enforced: true, mode };
  return { verdict: "HOLD", reasons, enforced: modeReason !== undefined || halt !== null || update.enforcement !== "audit", mode };
}

// ---------------------------------------------------------------- arbitrary inputs

const junk = fc.oneof(
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, 0, -0, -1, "", "BUY", "1", true, false, {}, [], 1e300),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.anything(),
);
function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: junk, weight: 1 });
}
const mixedRecordArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    id: field(fc.constantFrom("a", "i-1", "x".repeat(128))),
    symbol: field(fc.constantFrom(...SYMBOLS)),
    side: field(fc.constantFrom("BUY", "SELL")),
    qty: field(fc.double({ min: 1e-3, max: 100, noNaN: true })),
    price: field(fc.double({ min: 0.5, max: 1000, noNaN: true })),
    tp: field(fc.double({ min: 0.1, max: 2000, noNaN: true })),
    sl: field(fc.double({ min: 0.1, max: 2000, noNaN: true })),
    expected_move_usd: field(fc.double({ min: 0, max: 50, noNaN: true })),
    model: field(fc.constantFrom(...MODELS)),
    regime: field(fc.constantFrom(...REGIMES)),
    leverage: field(fc.double({ min: 0.1, max: 10, noNaN: true })),
    reduce_only: field(fc.boolean()),
    ts: field(fc.integer({ min: T0 - HOUR, max: T0 + HOUR })),
  },
  { requiredKeys: [] },
);
const anythingArb = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});
const anyInputArb: fc.Arbitrary<unknown> = fc.oneof(
  anythingArb,
  mixedRecordArb,
  fc.tuple(planArb, policyUpdateArb).map(([plan, u]) => resolve(plan, { ...DEFAULT_CONFIG, ...(u.thresholds as object) })),
);

function checkShape(v: Verdict, input: unknown): void {
  expect(["PASS", "HOLD"]).toContain(v.verdict);
  expect(v.reasons.length === 0).toBe(v.verdict === "PASS");
  expect(new Set(v.reasons).size).toBe(v.reasons.length);
  expect(["LIVE", "SHADOW", "PAUSED", "EMERGENCY", "FREEZE"]).toContain(v.mode);
  const invalid = v.reasons.filter((r) => r.startsWith("INVALID_INPUT:"));
  if (invalid.length) expect(invalid).toEqual(v.reasons); // input reasons never mix with gate reasons
  const raw = input as Record<string, unknown> | null;
  if (v.id !== null) expect(v.id).toBe(raw!.id as string);
  if (v.verdict === "PASS") expect(v.enforced).toBe(true);
}

const RUNS = 2000;

// ---------------------------------------------------------------- properties

describe("gates properties", () => {
  test("(a) evaluate never throws on fc.anything() and returns a well-shaped verdict", () => {
    fc.assert(
      fc.property(anythingArb, policyUpdateArb, historyArb, (input, update, history) => {
        const v = evaluate(input, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history));
        checkShape(v, input);
        // fc.anything() is never a plain intent with every field valid
        if (typeof input !== "object" || input === null || Array.isArray(input)) {
          expect(v.reasons).toEqual(["INVALID_INPUT:intent"]);
          expect(v.id).toBeNull();
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("(a) evaluate never throws on records of mixed valid and invalid fields", () => {
    fc.assert(
      fc.property(mixedRecordArb, policyUpdateArb, historyArb, (input, update, history) => {
        const v = evaluate(input, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history));
        checkShape(v, input);
        // required fields of a non-exit that are missing make it invalid
        const exit = input.reduce_only === true;
        for (const f of ["id", "symbol", "side", "qty", "price", "ts", ...(exit ? [] : ["tp", "sl", "expected_move_usd", "model", "regime"])]) {
          if (input[f] === undefined || input[f] === null) expect(v.reasons).toContain(`INVALID_INPUT:${f}`);
        }
        expect(isAuthorised(v)).toBe(v.verdict === "PASS" || !v.enforced);
        expect(() => countsAsTrade(v, input)).not.toThrow();
      }),
      { numRuns: RUNS },
    );
  });

  test("(b) PASS implies every rule holds (well-formed intents, random history and policy)", () => {
    let passes = 0;
    // Half the cases run under the default policy or an empty history, so PASS is common enough to say something.
    const lenientPolicy = fc.oneof(policyUpdateArb, fc.constant<PolicyUpdate>({}));
    const lenientHistory = fc.oneof(historyArb, fc.constant<HistoryEvent[]>([]));
    fc.assert(
      fc.property(planArb, lenientPolicy, lenientHistory, (plan, update, history) => {
        const config: GateConfig = { ...DEFAULT_CONFIG, ...(update.thresholds as Partial<GateConfig>) };
        const i = resolve({ ...plan, reduce_only: undefined }, config, history, update);
        fc.pre(wellFormed(i));
        const v = evaluate(i, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history));
        expect(v.reasons.filter((r) => r.startsWith("INVALID_INPUT"))).toEqual([]);
        if (v.verdict !== "PASS") return;
        passes++;
        const m = modelOf(history);
        const ts = i.ts as number;
        const price = i.price as number;
        const notional = price * (i.qty as number);
        const bps = config.FEES_BPS + config.FUNDING_BPS + config.SLIPPAGE_BPS + config.NOISE_BPS;
        const required = ((notional * bps) / 10_000) * config.EDGE_MULTIPLIER;
        const r = Math.abs((i.tp as number) - price) / Math.abs(price - (i.sl as number));
        // mode LIVE
        expect(modeAtModel(update, ts)).toBe("LIVE");
        expect(v.mode).toBe("LIVE");
        // economic gates
        expect(atLeast(notional, config.MIN_NOTIONAL_USD)).toBe(true);
        expect(atLeast(i.expected_move_usd as number, required)).toBe(true);
        const from = m.cooldownFrom(i.symbol as string);
        if (from !== undefined) expect(ts - from).toBeGreaterThanOrEqual(config.MIN_HOLD_SECONDS * 1000);
        expect(m.wouldExceed(ts, config.MAX_TRADES_10MIN)).toBe(false);
        expect(windowFrom(history).wouldExceedRate(ts, config.MAX_TRADES_10MIN)).toBe(false);
        expect(atLeast(r, config[MIN_R_KEY[i.regime as Regime]] as number)).toBe(true);
        expect(ALLOWED[i.regime as Regime]).toContain(i.model as string);
        // risk limits
        if (update.active_symbols) expect(update.active_symbols).toContain(i.symbol as string);
        if (update.model_weights) expect(update.model_weights[i.model as string]).not.toBe(0);
        if (update.max_leverage != null) expect(atLeast(update.max_leverage, (i.leverage as number | undefined) ?? 1)).toBe(true);
        if (update.max_notional_usd != null) expect(atLeast(update.max_notional_usd, notional)).toBe(true);
        // not stale
        expect(ts).toBeGreaterThanOrEqual(m.newest - STALE);
        expect(v.metrics.notional).toBe(notional);
      }),
      { numRuns: RUNS },
    );
    expect(passes).toBeGreaterThan(100); // the generators do reach PASS
  });

  test("(b) the verdict equals an independent model of every rule (reasons, order, enforcement, mode)", () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(planArb, policyUpdateArb, historyArb, fc.constantFrom(null, null, null, "OFFLINE" as const), (plan, update, history, halt) => {
        const config: GateConfig = { ...DEFAULT_CONFIG, ...(update.thresholds as Partial<GateConfig>) };
        const i = resolve(plan, config, history, update);
        fc.pre(wellFormed(i));
        const v = evaluate(i, compileContext(DEFAULT_CONFIG, toPolicy(update), halt), windowFrom(history));
        const e = expectedVerdict(i, update, history, halt);
        expect<unknown>({ verdict: v.verdict, reasons: v.reasons, enforced: v.enforced, mode: v.mode }).toEqual(e);
        for (const r of v.reasons.length ? v.reasons : ["PASS"]) seen.set(r, (seen.get(r) ?? 0) + 1);
      }),
      { numRuns: RUNS },
    );
    // The generators reach every outcome, so the comparison above means something.
    for (const r of ["PASS", "STALE_INTENT", ...MODE_REASONS, ...RISK_REASONS, ...GATE_REASONS]) {
      expect([r, (seen.get(r) ?? 0) > 0]).toEqual([r, true]);
    }
  });

  test("(b) a stream of intents and closes, recording what countsAsTrade, matches the model at every step", () => {
    const stepArb = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("intent" as const), plan: planArb, jitter: fc.integer({ min: -200_000, max: 400_000 }) }), weight: 4 },
      { arbitrary: fc.record({ kind: fc.constant("close" as const), symbol: fc.constantFrom(...SYMBOLS), jitter: fc.integer({ min: -100_000, max: 200_000 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), policyUpdateArb, (steps, update) => {
        const config: GateConfig = { ...DEFAULT_CONFIG, ...(update.thresholds as Partial<GateConfig>) };
        const ctx = compileContext(DEFAULT_CONFIG, toPolicy(update));
        const w = new TradeWindow();
        const history: HistoryEvent[] = [];
        let clock = T0;
        for (const step of steps) {
          clock += Math.max(0, step.jitter);
          const ts = clock + Math.min(0, step.jitter); // mostly forward, sometimes out of order
          if (step.kind === "close") {
            w.recordClose(step.symbol, ts);
            history.push({ kind: "close", symbol: step.symbol, ts });
            continue;
          }
          const i = resolve({ ...step.plan, ts }, config, history, update);
          if (!wellFormed(i)) continue;
          const v = evaluate(i, ctx, w);
          const e = expectedVerdict(i, update, history);
          expect<unknown>({ verdict: v.verdict, reasons: v.reasons, enforced: v.enforced, mode: v.mode }).toEqual(e);
          // An authorised order that is not an exit takes a slot in the window and starts the cooldown.
          const counts = (e.verdict === "PASS" || !e.enforced) && i.reduce_only !== true;
          expect(countsAsTrade(v, i)).toBe(counts);
          if (counts) {
            w.recordTrade(i.symbol as string, i.ts as number);
            history.push({ kind: "trade", symbol: i.symbol as string, ts: i.ts as number });
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test("(b) wouldExceedRate equals a brute-force count, also after pruning and compaction", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 * HOUR }), { minLength: 0, maxLength: 60 }),
        fc.integer({ min: 0, max: 4 * HOUR }),
        fc.option(fc.record({ index: fc.nat(), delta: fc.constantFrom(0, W, W - 1, -W, -W + 1, 1, -1) }), { nil: null }),
        fc.integer({ min: 0, max: 6 }),
        (offsets, probe, anchor, max) => {
          const w = new TradeWindow();
          const trades: number[] = [];
          for (const o of offsets) {
            w.recordTrade("S", T0 + o);
            trades.push(T0 + o);
          }
          // sometimes exactly on, or 1 ms inside, a window edge of a recorded trade
          const ts = anchor && trades.length ? trades[anchor.index % trades.length]! + anchor.delta : T0 + probe;
          fc.pre(!w.isStale(ts)); // older intents are judged STALE, not by the rate gate
          const hist = trades.map((t) => ({ kind: "trade" as const, symbol: "S", ts: t }));
          expect(w.wouldExceedRate(ts, max)).toBe(modelOf(hist).wouldExceed(ts, max));
        },
      ),
      { numRuns: RUNS },
    );
    // A long history crosses the compaction threshold (over 1024 pruned slots).
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 30_000, max: 400_000 }), { minLength: 1500, maxLength: 2000 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: -STALE, max: W }), (gaps, max, probe) => {
        const w = new TradeWindow();
        const trades: number[] = [];
        let t = T0;
        for (const g of gaps) {
          t += g;
          w.recordTrade("S", t);
          trades.push(t);
        }
        const ts = t + probe;
        const recent = trades.filter((x) => x > ts - 2 * W).map((x) => ({ kind: "trade" as const, symbol: "S", ts: x }));
        expect(w.wouldExceedRate(ts, max)).toBe(modelOf(recent).wouldExceed(ts, max));
      }),
      { numRuns: 20 },
    );
  });

  test("(c) determinism: the same intent and state give deep-equal verdicts", () => {
    fc.assert(
      fc.property(anyInputArb, policyUpdateArb, historyArb, (input, update, history) => {
        const pol = toPolicy(update);
        const w = windowFrom(history);
        const ctx = compileContext(DEFAULT_CONFIG, pol);
        const first = evaluate(input, ctx, w);
        const second = evaluate(input, ctx, w);
        expect(second).toEqual(first);
        // A freshly compiled context and a window rebuilt from the same history agree too.
        const third = evaluate(input, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history));
        expect(third).toEqual(first);
        // History recorded in reverse order is the same state.
        expect(evaluate(input, ctx, windowFrom([...history].reverse()))).toEqual(first);
      }),
      { numRuns: RUNS },
    );
  });

  test("(d) HOLD with enforced=false only under audit, only with gate or risk reasons", () => {
    let waived = 0;
    fc.assert(
      fc.property(anyInputArb, policyUpdateArb, historyArb, (input, update, history) => {
        const v = evaluate(input, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history));
        const onlyWaivable = v.reasons.length > 0 && v.reasons.every((r) => WAIVABLE.has(r));
        if (v.verdict === "HOLD" && !v.enforced) {
          waived++;
          expect(update.enforcement).toBe("audit");
          expect(v.reasons.some((r) => MODE_SET.has(r))).toBe(false);
          expect(v.reasons.some((r) => r.startsWith("INVALID_INPUT:"))).toBe(false);
          expect(v.reasons).not.toContain("STALE_INTENT");
          expect(onlyWaivable).toBe(true);
          expect(isAuthorised(v)).toBe(true);
        }
        // and the converse: audit waives every HOLD made only of gate and risk reasons
        if (v.verdict === "HOLD" && update.enforcement === "audit" && onlyWaivable) expect(v.enforced).toBe(false);
        if (v.reasons.some((r) => MODE_SET.has(r) || r.startsWith("INVALID_INPUT:") || r === "STALE_INTENT")) {
          expect(v.enforced).toBe(true);
          expect(isAuthorised(v)).toBe(false);
        }
      }),
      { numRuns: RUNS },
    );
    expect(waived).toBeGreaterThan(10);
  });

  test("(e) with every account limit off, any account and a cashflow policy judge exactly as today's gates", () => {
    // Off: null, absent, a capital block with neither profile nor limits, ESS thresholds null, multiplier 1.
    const limitsOffArb = fc.record(
      {
        capital: fc.constantFrom(null, { profile: null }),
        max_drawdown_pct: fc.constant(null),
        max_exposure_pct: fc.constant(null),
        stop_loss_multiplier: fc.constantFrom(null, 1),
        ess: fc.constant(null),
        cashflow: fc.option(
          fc.record({ profit_lock_pct: fc.constantFrom(0, 30, 100), reserve_buffer_pct: fc.constantFrom(0, 10, 99) }).map((c) => ({ ...c, reinvest_pct: 100 - c.profit_lock_pct })),
          { nil: null },
        ),
      },
      { requiredKeys: [] },
    );
    const accountArb = fc.record({
      snapshot: fc.option(
        fc.record({
          total_equity: fc.double({ min: -1000, max: 1e6, noNaN: true }),
          drawdown_pct: fc.double({ min: 0, max: 100, noNaN: true }),
          realized_pnl_today: fc.double({ min: -1e4, max: 1e4, noNaN: true }),
          num_positions: fc.nat({ max: 20 }),
          total_exposure_usd: fc.double({ min: 0, max: 1e6, noNaN: true }),
        }),
        { nil: null },
      ),
      entries: fc.array(fc.tuple(fc.constantFrom(...SYMBOLS), fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true })), { maxLength: 5 }),
      closes: fc.array(fc.tuple(fc.constantFrom(...SYMBOLS), fc.double({ min: -500, max: 500, noNaN: true }), fc.boolean()), { maxLength: 5 }),
      ess: fc.constantFrom(...ESS_STATES),
    });
    fc.assert(
      fc.property(planArb, policyUpdateArb, limitsOffArb, historyArb, accountArb, (plan, update, off, history, a) => {
        const config: GateConfig = { ...DEFAULT_CONFIG, ...(update.thresholds as Partial<GateConfig>) };
        const i = resolve(plan, config, history, update);
        fc.pre(wellFormed(i));
        const account = new Account();
        for (const [symbol, pnl, forCashflow] of a.closes) account.recordClose(symbol, pnl, forCashflow);
        if (a.snapshot) account.recordSnapshot({ ...a.snapshot, max_drawdown_pct: 0, unrealized_pnl: 0, win_rate_today: 0, sharpe_ratio_7d: 0, ts: T0 });
        for (const [symbol, notional, risk] of a.entries) account.recordEntry(symbol, notional, risk);
        account.ess = a.ess;
        const withAccount = evaluate(i, compileContext(DEFAULT_CONFIG, toPolicy({ ...update, ...off } as PolicyUpdate)), windowFrom(history), undefined, account);
        expect(withAccount).toEqual(evaluate(i, compileContext(DEFAULT_CONFIG, toPolicy(update)), windowFrom(history)));
        const e = expectedVerdict(i, update, history);
        expect<unknown>({ verdict: withAccount.verdict, reasons: withAccount.reasons, enforced: withAccount.enforced, mode: withAccount.mode }).toEqual(e);
        expect(withAccount.reasons.some((r) => (ACCOUNT_REASONS as readonly string[]).includes(r))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});
