// The account (account.ts): the ESS state machine with its hysteresis, the
// capital model of the cashflow policy, and open risk.
import { describe, expect, test } from "bun:test";
import { Account, capitalOf, nextEssState, tradableEquity } from "./account.ts";
import type { CashflowPolicy, EssThresholds } from "./policy-limits.ts";
import type { EssState } from "./types.ts";
import { portfolio as snapshot } from "../test/fixtures/portfolio.ts";

const T0 = 1_764_000_000_000;
const THRESHOLDS: EssThresholds = { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 };

/** The states a sequence of drawdowns walks through, from NOMINAL. */
function walk(drawdowns: number[], thresholds: EssThresholds | null = THRESHOLDS): EssState[] {
  let state: EssState = "NOMINAL";
  return drawdowns.map((d) => (state = nextEssState(state, d, thresholds)));
}

describe("nextEssState: the ESS state machine", () => {
  test("each state starts above its threshold; exactly at a threshold is still the state below (inclusive)", () => {
    expect(walk([0, 5, 5.0001, 10, 10.0001, 15, 15.0001])).toEqual(["NOMINAL", "NOMINAL", "CAUTION", "CAUTION", "WARNING", "WARNING", "CRITICAL"]);
  });

  test("values equal in decimal are equal (the kernel's 1e-9 tolerance)", () => {
    expect(nextEssState("NOMINAL", 0.1 * 50, THRESHOLDS)).toBe("NOMINAL"); // 5.000000000000001
  });

  test("CRITICAL holds until drawdown is back at or below caution (hysteresis), then it is judged afresh", () => {
    expect(walk([16, 14, 10.5, 6, 5.0001, 5, 7, 12])).toEqual(["CRITICAL", "CRITICAL", "CRITICAL", "CRITICAL", "CRITICAL", "NOMINAL", "CAUTION", "WARNING"]);
  });

  test("WARNING and CAUTION have no hysteresis: they follow the drawdown both ways", () => {
    expect(walk([11, 9, 11, 4])).toEqual(["WARNING", "CAUTION", "WARNING", "NOMINAL"]);
  });

  test("a jump straight past critical and back: the latch holds even across a recovery to warning levels", () => {
    expect(walk([30, 9.99])).toEqual(["CRITICAL", "CRITICAL"]);
  });

  test("with caution off, CRITICAL holds down to the lowest threshold set", () => {
    const t = { caution_threshold_pct: null, warning_threshold_pct: 8, critical_threshold_pct: 12 };
    expect(walk([13, 9, 8], t)).toEqual(["CRITICAL", "CRITICAL", "NOMINAL"]);
    const onlyCritical = { caution_threshold_pct: null, warning_threshold_pct: null, critical_threshold_pct: 12 };
    expect(walk([13, 11.9], onlyCritical)).toEqual(["CRITICAL", "NOMINAL"]);
  });

  test("no thresholds (ESS off): always NOMINAL; critical switched off ends a CRITICAL latch", () => {
    expect(walk([50, 99], null)).toEqual(["NOMINAL", "NOMINAL"]);
    expect(nextEssState("CRITICAL", 9, { ...THRESHOLDS, critical_threshold_pct: null })).toBe("CAUTION");
  });
});

describe("capitalOf: the capital model", () => {
  const cashflow: CashflowPolicy = { profit_lock_pct: 40, reinvest_pct: 60, reserve_buffer_pct: 10, since: T0 };

  test("without a cashflow policy all equity is tradable; without a snapshot there is no capital view", () => {
    const account = new Account();
    expect(capitalOf(account, null)).toBeNull();
    account.recordSnapshot(snapshot({ total_equity: 8000 }));
    expect(capitalOf(account, null)).toEqual({ equity: 8000, locked_profit: 0, reserve: 0, tradable_equity: 8000 });
  });

  test("locked profit is profit_lock_pct of the peak cumulative realised profit; reserve is reserve_buffer_pct of equity", () => {
    const account = new Account();
    account.recordSnapshot(snapshot({ total_equity: 10_000 }));
    for (const pnl of [300, -100, 500, -400]) account.recordClose("BTCUSDT", pnl, true); // cumulative 300, 200, 700, 300
    expect(account.cashflowPeak).toBe(700);
    expect(capitalOf(account, cashflow)).toEqual({ equity: 10_000, locked_profit: 280, reserve: 1000, tradable_equity: 8720 });
    expect(tradableEquity(account, cashflow)).toBe(8720);
  });

  test("losses before any profit lock nothing; closes that do not count for the cashflow policy lock nothing", () => {
    const account = new Account();
    account.recordSnapshot(snapshot());
    account.recordClose("BTCUSDT", -500, true);
    account.recordClose("BTCUSDT", 400, true); // cumulative -100: still below the 0 it started from
    account.recordClose("ETHUSDT", 1000, false); // before the policy took effect
    expect(account.cashflowPeak).toBe(0);
    expect(capitalOf(account, cashflow)!.locked_profit).toBe(0);
  });

  test("tradable equity can fall to 0 or below (a big reserve and lock on a shrunken account)", () => {
    const account = new Account();
    account.recordClose("BTCUSDT", 20_000, true);
    account.recordSnapshot(snapshot({ total_equity: 5000 }));
    expect(tradableEquity(account, { ...cashflow, profit_lock_pct: 50, reinvest_pct: 50 })).toBe(5000 - 10_000 - 500);
  });
});

describe("Account: positions, exposure and open risk since the snapshot", () => {
  test("entries add a position, their notional and their risk; a snapshot starts the count over", () => {
    const account = new Account();
    account.recordEntry("BTCUSDT", 500, 20);
    account.recordEntry("BTCUSDT", 300, 10);
    account.recordEntry("ETHUSDT", 200, 5);
    expect([account.entriesSinceSnapshot, account.notionalSinceSnapshot, account.openRisk]).toEqual([3, 1000, 35]);
    account.recordSnapshot(snapshot({ num_positions: 2 }));
    expect([account.entriesSinceSnapshot, account.notionalSinceSnapshot, account.openRisk]).toEqual([0, 0, 35]); // still open
  });

  test("a close ends its symbol's open risk and counts its pnl as realised since the snapshot", () => {
    const account = new Account();
    account.recordEntry("BTCUSDT", 500, 20);
    account.recordEntry("ETHUSDT", 200, 5);
    account.recordClose("BTCUSDT", -12.5, false);
    expect([account.openRisk, account.realisedSinceSnapshot]).toEqual([5, -12.5]);
    account.recordClose("SOLUSDT", undefined, false); // a close without an outcome realises nothing
    expect(account.realisedSinceSnapshot).toBe(-12.5);
  });

  test("a flat snapshot (no positions) ends all open risk", () => {
    const account = new Account();
    account.recordEntry("BTCUSDT", 500, 20);
    account.recordSnapshot(snapshot({ num_positions: 0 }));
    expect(account.openRisk).toBe(0);
  });

  test("the open risk total does not depend on the order risks were added in (the journal rebuilds it by symbol)", () => {
    const a = new Account();
    const b = new Account();
    const risks: [string, number][] = [["A", 0.1], ["B", 0.2], ["A", 0.3], ["C", 1e-7], ["B", 0.7]];
    for (const [s, r] of risks) a.recordEntry(s, 1, r);
    const bySymbol = new Map<string, number>();
    for (const [s, r] of risks) bySymbol.set(s, (bySymbol.get(s) ?? 0) + r);
    for (const [s, r] of [...bySymbol].reverse()) b.addOpenRisk(s, r);
    expect(b.openRisk).toBe(a.openRisk);
  });
});
