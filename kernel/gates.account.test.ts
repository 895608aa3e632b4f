// The account limits in the gates (issue 11): one block per HOLD reason, each
// with its boundary (at the limit passes, past it holds), and what the
// decision types do to the other gates (weights scale the notional cap,
// stop_loss_multiplier widens the R gate's stop).
import { describe, expect, test } from "bun:test";
import { Account } from "./account.ts";
import { DEFAULT_CONFIG, type GateConfig } from "./config.ts";
import { compileContext, evaluate } from "./gates.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, type PolicyUpdate } from "./policy.ts";
import { TradeWindow } from "./trade-window.ts";
import { ACCOUNT_REASONS, type EssState, type PortfolioSnapshot, type Verdict } from "./types.ts";
import { portfolio } from "../test/fixtures/portfolio.ts";

const T0 = 1_764_000_000_000;
const ESS = { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 };

/**
 * A BUY of 1 at 100, stop 90, target 130: notional 100, stop distance 10
 * (so risk 10 USD a unit), R 3 in TREND (minimum 2.5), edge 5 USD against
 * 0.66 required. It passes every economic gate.
 */
function entry(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: "e1", symbol: "BTCUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: T0, ...fields };
}

function policyOf(update: PolicyUpdate) {
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) throw new Error(result.violations.join("; "));
  return result.policy;
}

interface AccountSetup {
  snapshot?: Partial<PortfolioSnapshot> | null;
  entries?: [symbol: string, notional: number, risk: number][];
  closes?: [symbol: string, pnl: number, forCashflow: boolean][];
  ess?: EssState;
}

function accountOf(setup: AccountSetup): Account {
  const account = new Account();
  for (const [symbol, pnl, forCashflow] of setup.closes ?? []) account.recordClose(symbol, pnl, forCashflow);
  if (setup.snapshot !== null) account.recordSnapshot(portfolio(setup.snapshot ?? {}));
  for (const [symbol, notional, risk] of setup.entries ?? []) account.recordEntry(symbol, notional, risk);
  account.ess = setup.ess ?? "NOMINAL";
  return account;
}

function judge(update: PolicyUpdate, setup: AccountSetup = {}, intent = entry(), config: GateConfig = DEFAULT_CONFIG): Verdict {
  return evaluate(intent, compileContext(config, policyOf(update)), new TradeWindow(), undefined, accountOf(setup));
}

const reasons = (v: Verdict) => v.reasons;

describe("NO_PORTFOLIO: a limit that needs the portfolio, with none reported", () => {
  const needing: [string, PolicyUpdate][] = [
    ["max_positions", { capital: { profile: null, max_positions: 5 } }],
    ["max_risk_per_trade_pct", { capital: { profile: null, max_risk_per_trade_pct: 1 } }],
    ["max_daily_risk_pct", { capital: { profile: null, max_daily_risk_pct: 3 } }],
    ["a capital profile", { capital: { profile: "MICRO" } }],
    ["max_exposure_pct", { max_exposure_pct: 100 }],
    ["max_drawdown_pct", { max_drawdown_pct: 10 }],
    ["ESS thresholds", { ess: ESS }],
  ];
  for (const [name, update] of needing) {
    test(`${name}: HOLD NO_PORTFOLIO, enforced`, () => {
      const v = judge(update, { snapshot: null });
      expect(v).toMatchObject({ verdict: "HOLD", reasons: ["NO_PORTFOLIO"], enforced: true });
      expect(judge(update, {}).verdict).toBe("PASS"); // with a flat $10,000 portfolio it passes
    });
  }

  test("limits that need no portfolio judge without one: notional and leverage caps, weights, the stop multiplier, a cashflow policy", () => {
    const update: PolicyUpdate = {
      max_notional_usd: 100,
      max_leverage: 2,
      model_weights: { NHiTS: 1 },
      stop_loss_multiplier: 1.2,
      cashflow: { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 20 },
    };
    expect(judge(update, { snapshot: null }).verdict).toBe("PASS");
  });

  test("exits pass without a portfolio", () => {
    expect(judge({ max_drawdown_pct: 10 }, { snapshot: null }, { id: "x", symbol: "BTCUSDT", side: "SELL", qty: 1, price: 100, reduce_only: true, ts: T0 }).verdict).toBe("PASS");
  });
});

describe("MAX_POSITIONS: open positions (snapshot + entries authorised since) + this one <= max_positions", () => {
  const limit = { capital: { profile: null, max_positions: 3 } };
  test("reaching the limit passes; one past it holds", () => {
    expect(judge(limit, { snapshot: { num_positions: 2 } }).verdict).toBe("PASS");
    expect(judge(limit, { snapshot: { num_positions: 1 }, entries: [["ETHUSDT", 50, 1]] }).verdict).toBe("PASS");
    expect(reasons(judge(limit, { snapshot: { num_positions: 2 }, entries: [["ETHUSDT", 50, 1]] }))).toEqual(["MAX_POSITIONS"]);
    expect(reasons(judge(limit, { snapshot: { num_positions: 3 } }))).toEqual(["MAX_POSITIONS"]);
  });

  test("max_positions 0 allows no entry", () => {
    expect(reasons(judge({ capital: { profile: null, max_positions: 0 } }))).toEqual(["MAX_POSITIONS"]);
  });
});

describe("RISK_PER_TRADE: loss at stop (stop distance x stop_loss_multiplier x qty) <= max_risk_per_trade_pct of tradable equity", () => {
  const limit = { capital: { profile: null, max_risk_per_trade_pct: 0.1 } }; // 10 USD of 10,000
  test("a loss at stop of exactly 10 USD passes; 10.1 holds", () => {
    expect(judge(limit).verdict).toBe("PASS");
    expect(reasons(judge(limit, {}, entry({ qty: 1.01 })))).toEqual(["RISK_PER_TRADE"]);
  });

  test("stop_loss_multiplier widens the stop: 1.5 makes the same entry risk 15 USD", () => {
    expect(reasons(judge({ ...limit, stop_loss_multiplier: 1.5 }, {}, entry({ tp: 140 })))).toEqual(["RISK_PER_TRADE"]);
    expect(judge({ capital: { profile: null, max_risk_per_trade_pct: 0.15 }, stop_loss_multiplier: 1.5 }, {}, entry({ tp: 140 })).verdict).toBe("PASS");
  });

  test("the equity is tradable equity: a 10% reserve leaves 9,000, and 0.1% of it is 9 USD", () => {
    expect(reasons(judge({ ...limit, cashflow: { profit_lock_pct: 0, reinvest_pct: 100, reserve_buffer_pct: 10 } }))).toEqual(["RISK_PER_TRADE"]);
  });

  test("tradable equity at or below 0 holds every entry with a risk", () => {
    expect(reasons(judge(limit, { snapshot: { total_equity: 0 } }))).toEqual(["RISK_PER_TRADE"]);
    expect(reasons(judge(limit, { snapshot: { total_equity: -50 } }))).toEqual(["RISK_PER_TRADE"]);
  });
});

describe("DAILY_RISK: realised loss today + open risk + this entry's risk <= max_daily_risk_pct of tradable equity", () => {
  const limit = { capital: { profile: null, max_daily_risk_pct: 1 } }; // 100 USD of 10,000
  test("80 realised + 10 open + 10 this entry = 100 passes; a cent more holds", () => {
    const open: AccountSetup["entries"] = [["ETHUSDT", 100, 10]];
    expect(judge(limit, { snapshot: { realized_pnl_today: -80 }, entries: open }).verdict).toBe("PASS");
    expect(reasons(judge(limit, { snapshot: { realized_pnl_today: -80.01 }, entries: open }))).toEqual(["DAILY_RISK"]);
  });

  test("closes since the snapshot count with the snapshot's realised pnl; a profit is no loss", () => {
    expect(reasons(judge(limit, { snapshot: { realized_pnl_today: -85 }, closes: [] }, entry({ qty: 1.6 })))).toEqual(["DAILY_RISK"]); // 85 + 16
    const afterCloses = accountOf({ snapshot: { realized_pnl_today: -60 } });
    afterCloses.recordClose("SOLUSDT", -31, false);
    const ctx = compileContext(DEFAULT_CONFIG, policyOf(limit));
    expect(reasons(evaluate(entry(), ctx, new TradeWindow(), undefined, afterCloses))).toEqual(["DAILY_RISK"]); // 91 + 10
    expect(judge(limit, { snapshot: { realized_pnl_today: 5000 } }, entry({ qty: 10, expected_move_usd: 50 })).verdict).toBe("PASS"); // 0 + 100
  });
});

describe("MAX_EXPOSURE: snapshot exposure + notional authorised since + this notional <= max_exposure_pct of tradable equity", () => {
  const limit = { max_exposure_pct: 50 }; // 5,000 of 10,000
  test("exactly 5,000 after the entry passes; 1 USD more holds", () => {
    expect(judge(limit, { snapshot: { total_exposure_usd: 4800 }, entries: [["ETHUSDT", 100, 1]] }).verdict).toBe("PASS");
    expect(reasons(judge(limit, { snapshot: { total_exposure_usd: 4801 }, entries: [["ETHUSDT", 100, 1]] }))).toEqual(["MAX_EXPOSURE"]);
  });

  test("above 100% (leveraged exposure) is a valid limit", () => {
    expect(judge({ max_exposure_pct: 300 }, { snapshot: { total_exposure_usd: 29_900 } }).verdict).toBe("PASS");
  });
});

describe("DRAWDOWN_LIMIT: entries hold while drawdown_pct > max_drawdown_pct", () => {
  test("at the limit passes, past it holds; exits still pass", () => {
    expect(judge({ max_drawdown_pct: 10 }, { snapshot: { drawdown_pct: 10 } }).verdict).toBe("PASS");
    expect(reasons(judge({ max_drawdown_pct: 10 }, { snapshot: { drawdown_pct: 10.01 } }))).toEqual(["DRAWDOWN_LIMIT"]);
    const exit = { id: "x", symbol: "BTCUSDT", side: "SELL", qty: 1, price: 100, reduce_only: true, ts: T0 };
    expect(judge({ max_drawdown_pct: 10 }, { snapshot: { drawdown_pct: 50 } }, exit).verdict).toBe("PASS");
  });
});

describe("ESS states (the account's, judged at each snapshot): CAUTION halves, WARNING and CRITICAL hold every entry", () => {
  const exit = { id: "x", symbol: "BTCUSDT", side: "SELL", qty: 1, price: 100, reduce_only: true, ts: T0 };
  test("WARNING: ESS_WARNING on every entry, exits pass", () => {
    expect(reasons(judge({ ess: ESS }, { ess: "WARNING" }))).toEqual(["ESS_WARNING"]);
    expect(judge({ ess: ESS }, { ess: "WARNING" }, exit).verdict).toBe("PASS");
  });

  test("CRITICAL: ESS_CRITICAL on every entry, listed before the other risk reasons; exits pass", () => {
    const v = judge({ ess: ESS, active_symbols: ["ETHUSDT"] }, { ess: "CRITICAL" });
    expect(v.reasons).toEqual(["ESS_CRITICAL", "SYMBOL_NOT_ACTIVE"]);
    expect(judge({ ess: ESS }, { ess: "CRITICAL" }, exit).verdict).toBe("PASS");
  });

  test("CAUTION halves the notional cap: 100 of a 200 cap passes, 101 holds ESS_CAUTION", () => {
    expect(judge({ ess: ESS, max_notional_usd: 200 }, { ess: "CAUTION" }).verdict).toBe("PASS");
    expect(reasons(judge({ ess: ESS, max_notional_usd: 200 }, { ess: "CAUTION" }, entry({ qty: 1.01 })))).toEqual(["ESS_CAUTION"]);
    // Past the whole cap, both.
    expect(reasons(judge({ ess: ESS, max_notional_usd: 200 }, { ess: "CAUTION" }, entry({ qty: 2.5 })))).toEqual(["NOTIONAL_TOO_LARGE", "ESS_CAUTION"]);
  });

  test("CAUTION halves the risk per trade: 10 USD of a 20 USD budget passes, 10.1 holds ESS_CAUTION", () => {
    const limit = { ess: ESS, capital: { profile: null, max_risk_per_trade_pct: 0.2 } };
    expect(judge(limit, { ess: "CAUTION" }).verdict).toBe("PASS");
    expect(reasons(judge(limit, { ess: "CAUTION" }, entry({ qty: 1.01 })))).toEqual(["ESS_CAUTION"]);
    expect(judge(limit, { ess: "NOMINAL" }, entry({ qty: 1.01 })).verdict).toBe("PASS");
  });

  test("CAUTION with no size limit to halve holds nothing", () => {
    expect(judge({ ess: ESS }, { ess: "CAUTION" }).verdict).toBe("PASS");
  });

  test("an ESS state left from thresholds now off is not judged", () => {
    expect(judge({ max_drawdown_pct: 50 }, { ess: "CRITICAL" }).verdict).toBe("PASS");
  });
});

describe("STRATEGY_ALLOCATION: weight x the notional cap in force", () => {
  test("weight 0.1 of a 1,000 cap: 100 passes, 101 holds NOTIONAL_TOO_LARGE", () => {
    const update = { max_notional_usd: 1000, model_weights: { NHiTS: 0.1 } };
    expect(judge(update, { snapshot: null }).verdict).toBe("PASS");
    expect(reasons(judge(update, { snapshot: null }, entry({ qty: 1.01 })))).toEqual(["NOTIONAL_TOO_LARGE"]);
  });

  test("a model without a weight takes the whole cap; weight 0 is MODEL_DISABLED only; without a cap weights only disable", () => {
    expect(judge({ max_notional_usd: 1000, model_weights: { PatchTST: 0.01 } }, {}, entry({ qty: 10, expected_move_usd: 50 })).verdict).toBe("PASS");
    expect(reasons(judge({ max_notional_usd: 1000, model_weights: { NHiTS: 0 } }))).toEqual(["MODEL_DISABLED"]);
    expect(judge({ model_weights: { NHiTS: 0.01 } }, {}, entry({ qty: 100, expected_move_usd: 500 })).verdict).toBe("PASS");
  });

  test("a model named like an Object property reads no inherited weight", () => {
    const config = { ...DEFAULT_CONFIG, ALLOWED_MODELS_TREND: ["constructor"] };
    const v = evaluate(entry({ model: "constructor" }), compileContext(config, policyOf({ max_notional_usd: 1000, model_weights: { NHiTS: 0.5 } })), new TradeWindow());
    expect(v.verdict).toBe("PASS");
  });
});

describe("stop_loss_multiplier feeds the R gate", () => {
  test("R 3 at multiplier 1; 1.2 makes it exactly 2.5 (TREND's minimum, passes); 1.21 holds R_TOO_LOW", () => {
    expect(judge({}).metrics.r_ratio).toBe(3);
    const atMin = judge({ stop_loss_multiplier: 1.2 });
    expect(atMin.verdict).toBe("PASS");
    expect(atMin.metrics.r_ratio).toBeCloseTo(2.5, 12);
    expect(reasons(judge({ stop_loss_multiplier: 1.21 }))).toEqual(["R_TOO_LOW"]);
  });
});

describe("CAPITAL_PROFILE: the profile's defaults come from the gate config; explicit fields override them", () => {
  test("SMALL by default: 0.5% risk per trade (50 USD), 2% daily, 3 positions", () => {
    const small = { capital: { profile: "SMALL" as const } };
    expect(judge(small, {}, entry({ qty: 5 })).verdict).toBe("PASS"); // 50 USD
    expect(reasons(judge(small, {}, entry({ qty: 5.1 })))).toEqual(["RISK_PER_TRADE"]);
    expect(reasons(judge(small, { snapshot: { num_positions: 3 } }))).toEqual(["MAX_POSITIONS"]);
    expect(reasons(judge(small, { snapshot: { realized_pnl_today: -195 } }))).toEqual(["DAILY_RISK"]); // 195 + 10 > 200
  });

  test("an explicit field overrides, null turns it off, and the table is the node's config", () => {
    expect(judge({ capital: { profile: "SMALL", max_positions: 10 } }, { snapshot: { num_positions: 3 } }).verdict).toBe("PASS");
    expect(judge({ capital: { profile: "SMALL", max_risk_per_trade_pct: null } }, {}, entry({ qty: 20, expected_move_usd: 50 })).verdict).toBe("PASS");
    const config = { ...DEFAULT_CONFIG, CAPITAL_SMALL_MAX_POSITIONS: 1 };
    expect(reasons(judge({ capital: { profile: "SMALL" } }, { snapshot: { num_positions: 1 } }, entry(), config))).toEqual(["MAX_POSITIONS"]);
  });
});

describe("audit and halts", () => {
  test("audit waives every account reason (the order goes ahead, the HOLD is on record)", () => {
    for (const [update, setup, reason] of [
      [{ ess: ESS }, { ess: "CRITICAL" }, "ESS_CRITICAL"],
      [{ max_drawdown_pct: 1 }, { snapshot: { drawdown_pct: 2 } }, "DRAWDOWN_LIMIT"],
      [{ capital: { profile: null, max_positions: 0 } }, {}, "MAX_POSITIONS"],
      [{ max_exposure_pct: 100 }, { snapshot: null }, "NO_PORTFOLIO"],
    ] as [PolicyUpdate, AccountSetup, string][]) {
      const v = judge({ ...update, enforcement: "audit" }, setup);
      expect(v).toMatchObject({ verdict: "HOLD", reasons: [reason], enforced: false });
    }
  });

  test("a mode halt comes first and stays enforced under audit", () => {
    const v = judge({ mode: "PAUSED", ess: ESS, enforcement: "audit" }, { ess: "WARNING" });
    expect(v).toMatchObject({ reasons: ["MODE_PAUSED", "ESS_WARNING"], enforced: true });
  });

  test("the account reasons are listed in ACCOUNT_REASONS order", () => {
    const v = judge(
      { ess: ESS, max_drawdown_pct: 1, max_notional_usd: 50, max_exposure_pct: 0.5, capital: { profile: null, max_positions: 0, max_risk_per_trade_pct: 0.01, max_daily_risk_pct: 0.01 } },
      { ess: "CAUTION", snapshot: { drawdown_pct: 6 } },
    );
    expect(v.reasons).toEqual(["DRAWDOWN_LIMIT", "NOTIONAL_TOO_LARGE", "ESS_CAUTION", "MAX_POSITIONS", "MAX_EXPOSURE", "RISK_PER_TRADE", "DAILY_RISK"]);
    const order = ACCOUNT_REASONS.filter((r) => v.reasons.includes(r));
    expect(v.reasons.filter((r) => (ACCOUNT_REASONS as readonly string[]).includes(r))).toEqual(order);
  });
});
