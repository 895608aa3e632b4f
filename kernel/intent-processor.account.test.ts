// The intent processor's account (issue 11): portfolio snapshots and closes
// with their outcome, durable in the journal; the ESS state judged at each
// snapshot and kept across restarts; replays that give the same verdicts.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../lib/sqlite.ts";
import { portfolio } from "../test/fixtures/portfolio.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { DEFAULT_CONFIG } from "./config.ts";
import { CloseRefusedError, IntentProcessor, PortfolioRefusedError, type EssChange } from "./intent-processor.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy, type PolicyUpdate } from "./policy.ts";
import type { CloseEvent, Intent, PortfolioSnapshot } from "./types.ts";

afterAll(removeTempDirs);

const T0 = 1_764_000_000_000;
const ESS = { caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 };
const clock = () => T0 + 3_600_000;

function policyOf(update: PolicyUpdate): KernelPolicy {
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) throw new Error(result.violations.join("; "));
  return result.policy;
}

/** A BUY of 1 at 100 (stop 90: risk 10 USD) that passes every economic gate. */
function entry(id: string, symbol: string, ts: number, fields: Partial<Intent> = {}): Intent {
  return { id, symbol, side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts, ...fields };
}

function open(path: string, update: PolicyUpdate = {}, changes: EssChange[] = []): IntentProcessor {
  return IntentProcessor.open(path, { config: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: 0, MAX_TRADES_10MIN: 1000 }, policy: policyOf(update), clock, onEssChange: (c) => changes.push(c) });
}

const journal = () => join(tempDir(), "journal.db");

describe("recordPortfolio", () => {
  test("refuses an unusable snapshot whole, naming the field, and records nothing", () => {
    const p = open(journal());
    const cases: [Partial<Record<keyof PortfolioSnapshot, unknown>>, string][] = [
      [{ drawdown_pct: -1 }, "drawdown_pct: must be a finite number, 0 or more"],
      [{ total_equity: Number.NaN }, "total_equity: must be a finite number"],
      [{ total_equity: null }, "total_equity: must be a finite number"],
      [{ num_positions: 1.5 }, "num_positions: must be a whole number, 0 or more"],
      [{ total_exposure_usd: Number.POSITIVE_INFINITY }, "total_exposure_usd: must be a finite number, 0 or more"],
      [{ sharpe_ratio_7d: "1.2" }, "sharpe_ratio_7d: must be a finite number"],
      [{ ts: 1_764_000_000 }, "ts: must be whole ms since the epoch (2000 to 2100)"],
    ];
    for (const [fields, message] of cases) {
      expect(() => p.recordPortfolio({ ...portfolio(), ...fields } as PortfolioSnapshot)).toThrow(new PortfolioRefusedError(message));
    }
    expect(() => p.recordPortfolio(null as never)).toThrow(PortfolioRefusedError);
    const { ts: _ts, ...withoutTs } = portfolio();
    expect(() => p.recordPortfolio(withoutTs as PortfolioSnapshot)).toThrow("ts: must be whole ms");
    expect(p.accountStatus()).toMatchObject({ portfolio_ts: null, capital: null, positions: null });
    p.close();
  });

  test("refuses a snapshot dated more than 60 s ahead of the clock (FUTURE_PORTFOLIO); 60 s exactly is fine", () => {
    const p = open(journal());
    expect(() => p.recordPortfolio(portfolio({ ts: clock() + 60_001 }))).toThrow(/^ts: FUTURE_PORTFOLIO: /);
    p.recordPortfolio(portfolio({ ts: clock() + 60_000 }));
    expect(p.accountStatus().portfolio_ts).toBe(clock() + 60_000);
    p.close();
  });

  test("a snapshot older than the one in force (delivered late) changes nothing", () => {
    const p = open(journal());
    p.recordPortfolio(portfolio({ ts: T0 + 10, total_equity: 9000 }));
    p.recordPortfolio(portfolio({ ts: T0, total_equity: 1 }));
    expect(p.accountStatus()).toMatchObject({ portfolio_ts: T0 + 10, capital: { equity: 9000 } });
    p.close();
  });

  test("fields outside the contract are not kept", () => {
    const path = journal();
    const p = open(path);
    p.recordPortfolio({ ...portfolio(), type: "portfolio", note: "x".repeat(1000) } as PortfolioSnapshot);
    p.close();
    const db = openDatabase(path);
    expect(JSON.parse(db.prepare("SELECT snapshot FROM account").get<{ snapshot: string }>()!.snapshot)).toEqual(portfolio());
    db.close();
  });
});

describe("closes with their outcome", () => {
  test("pnl_usd must be finite and exit one of the four; a refused close leaves nothing of its batch", () => {
    const p = open(journal());
    const good: CloseEvent = { type: "close", symbol: "BTCUSDT", ts: T0, pnl_usd: -12.5, exit: "stop_loss" };
    const bad: [Partial<CloseEvent>, string][] = [
      [{ pnl_usd: Number.NaN }, "pnl_usd: must be a finite number (USD, negative for a loss)"],
      [{ pnl_usd: null as never }, "pnl_usd: must be a finite number (USD, negative for a loss)"],
      [{ exit: "timeout" as never }, "exit: must be one of stop_loss, take_profit, manual, liquidation"],
    ];
    for (const [fields, message] of bad) {
      let error: unknown;
      try {
        p.recordCloses([good, { ...good, symbol: "ETHUSDT", ...fields }]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CloseRefusedError);
      expect(error).toMatchObject({ index: 1, message });
    }
    p.recordPortfolio(portfolio({ ts: T0 - 1 }));
    p.recordCloses([good, { type: "close", symbol: "ETHUSDT", ts: T0, exit: "take_profit" }, { type: "close", symbol: "SOLUSDT", ts: T0 }]);
    // Only the batch that was accepted counts: -12.5 realised since the snapshot.
    expect(p.accountStatus().realized_pnl_today).toBe(-12.5);
    p.close();
  });
});

describe("the account across restarts", () => {
  test("snapshot, entries and closes since it, open risk, ESS state and locked profit are all rebuilt from the journal", () => {
    const path = journal();
    const update: PolicyUpdate = {
      ess: ESS,
      stop_loss_multiplier: 1.5,
      capital: { profile: null, max_positions: 10 },
      cashflow: { profit_lock_pct: 50, reinvest_pct: 50, reserve_buffer_pct: 10, since: T0 },
    };
    const p = open(path, update);
    p.recordCloses([{ type: "close", symbol: "OLDUSDT", ts: T0 - 1, pnl_usd: 999 }]); // before the cashflow policy: locks nothing
    p.recordCloses([{ type: "close", symbol: "XRPUSDT", ts: T0 + 1, pnl_usd: 400 }]);
    p.recordPortfolio(portfolio({ ts: T0 + 2, num_positions: 2, drawdown_pct: 7, realized_pnl_today: 400 }));
    const wide = { tp: 145 }; // R 3 with the stop widened 1.5 times
    const verdicts = p.process([entry("a", "BTCUSDT", T0 + 10, wide), entry("b", "ETHUSDT", T0 + 20, wide), entry("c", "BTCUSDT", T0 + 30, { reduce_only: true })]);
    expect(verdicts.map((v) => v.verdict)).toEqual(["PASS", "PASS", "PASS"]);
    p.recordCloses([{ type: "close", symbol: "ETHUSDT", ts: T0 + 40, pnl_usd: -100, exit: "stop_loss" }]);
    const before = p.accountStatus();
    expect(before).toMatchObject({
      ess_state: "CAUTION",
      capital: { equity: 10_000, locked_profit: 200, reserve: 1000, tradable_equity: 8800 },
      positions: { open: 4, in_snapshot: 2, authorised_since_snapshot: 2 },
      exposure_usd: 200,
      realized_pnl_today: 300,
      open_risk_usd: 15, // BTCUSDT's entry, its stop widened 1.5 times; ETHUSDT's closed
    });
    p.close();
    const reopened = open(path, update);
    expect(reopened.accountStatus()).toEqual(before);
    reopened.close();
  });

  test("a v2 journal is upgraded: no account yet, open risk 0, and it works as before", () => {
    const path = journal();
    const v2 = openDatabase(path);
    v2.exec(`
      CREATE TABLE receipts (rowid INTEGER PRIMARY KEY, intent_id TEXT NOT NULL UNIQUE, intent TEXT NOT NULL, received_at INTEGER NOT NULL);
      CREATE TABLE verdicts (seq INTEGER PRIMARY KEY AUTOINCREMENT, intent_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
        counts_as_trade INTEGER NOT NULL, intent TEXT NOT NULL, verdict TEXT NOT NULL, judged_at INTEGER);
      CREATE INDEX verdicts_trades ON verdicts(ts) WHERE counts_as_trade = 1;
      CREATE TABLE symbol_state (symbol TEXT PRIMARY KEY, last_trade_ts INTEGER, last_close_ts INTEGER);
      INSERT INTO symbol_state VALUES ('BTCUSDT', ${T0}, NULL);
      PRAGMA user_version = 2;
    `);
    v2.close();
    const p = IntentProcessor.open(path, { config: DEFAULT_CONFIG, clock });
    expect(p.accountStatus()).toMatchObject({ ess_state: "NOMINAL", portfolio_ts: null, open_risk_usd: 0 });
    expect(p.process([entry("x", "BTCUSDT", T0 + 1000)])[0]!.reasons).toEqual(["COOLDOWN"]); // its cooldown state kept
    p.close();
  });

  test("compaction keeps the verdicts and closes the account still counts", () => {
    const path = journal();
    const p = open(path, { cashflow: { profit_lock_pct: 100, reinvest_pct: 0, since: T0 } });
    p.process([entry("old", "BTCUSDT", T0)]);
    p.recordCloses([{ type: "close", symbol: "BTCUSDT", ts: T0 + 1, pnl_usd: 50 }]);
    p.recordPortfolio(portfolio({ ts: T0 + 2, num_positions: 0 }));
    p.process([entry("new", "ETHUSDT", T0 + 3)]);
    const before = p.accountStatus();
    expect(before.positions).toMatchObject({ authorised_since_snapshot: 1 });
    expect(p.compact(T0 + 1_000_000, Number.MAX_SAFE_INTEGER)).toBe(1); // "old" only: "new" came after the snapshot
    p.close();
    const reopened = open(path, { cashflow: { profit_lock_pct: 100, reinvest_pct: 0, since: T0 } });
    expect(reopened.accountStatus()).toEqual(before);
    expect(reopened.accountStatus().capital!.locked_profit).toBe(50); // the close the cashflow counts was kept
    reopened.close();
  });
});

describe("the ESS state in the processor", () => {
  test("judged at each snapshot with hysteresis, journaled, and told through onEssChange", () => {
    const path = journal();
    const changes: EssChange[] = [];
    const p = open(path, { ess: ESS }, changes);
    const at = (drawdown_pct: number, n: number) => p.recordPortfolio(portfolio({ ts: T0 + n, drawdown_pct }));
    at(16, 1);
    expect(p.process([entry("a", "BTCUSDT", T0 + 10)])[0]!.reasons).toEqual(["ESS_CRITICAL"]);
    at(8, 20);
    expect(p.essState).toBe("CRITICAL"); // latched until back at or below caution
    p.close();
    const reopened = open(path, { ess: ESS }, changes);
    expect(reopened.essState).toBe("CRITICAL");
    expect(reopened.process([entry("b", "BTCUSDT", T0 + 30)])[0]!.reasons).toEqual(["ESS_CRITICAL"]);
    reopened.recordPortfolio(portfolio({ ts: T0 + 40, drawdown_pct: 5 }));
    expect(reopened.process([entry("c", "BTCUSDT", T0 + 50)])[0]!.verdict).toBe("PASS");
    expect(changes.map((c) => [c.from, c.to, c.drawdown_pct, c.cause])).toEqual([
      ["NOMINAL", "CRITICAL", 16, "portfolio"],
      ["CRITICAL", "NOMINAL", 5, "portfolio"],
    ]);
    reopened.close();
  });

  test("a policy change judges the state again under its thresholds; off, it is NOMINAL", () => {
    const changes: EssChange[] = [];
    const p = open(journal(), {}, changes);
    p.recordPortfolio(portfolio({ ts: T0, drawdown_pct: 12 }));
    expect(p.essState).toBe("NOMINAL");
    p.setPolicy(policyOf({ ess: ESS }));
    expect(p.essState).toBe("WARNING");
    p.setPolicy(policyOf({}));
    expect(p.essState).toBe("NOMINAL");
    expect(changes.map((c) => [c.from, c.to, c.cause])).toEqual([
      ["NOMINAL", "WARNING", "policy"],
      ["WARNING", "NOMINAL", "policy"],
    ]);
    p.close();
  });
});

describe("cashflow in the processor", () => {
  test("locked profit counts closes from the policy's start; a policy starting at another time counts again", () => {
    const p = open(journal());
    p.recordPortfolio(portfolio({ ts: T0 }));
    p.recordCloses([
      { type: "close", symbol: "A", ts: T0 + 100, pnl_usd: 100 },
      { type: "close", symbol: "B", ts: T0 + 200, pnl_usd: 300 },
    ]);
    p.setPolicy(policyOf({ cashflow: { profit_lock_pct: 50, reinvest_pct: 50, since: T0 + 150 } }));
    expect(p.accountStatus().capital!.locked_profit).toBe(150); // B only
    p.recordCloses([{ type: "close", symbol: "C", ts: T0 + 300, pnl_usd: -200 }]);
    expect(p.accountStatus().capital!.locked_profit).toBe(150); // a loss does not unlock
    p.setPolicy(policyOf({ cashflow: { profit_lock_pct: 50, reinvest_pct: 50, since: T0 } }));
    expect(p.accountStatus().capital!.locked_profit).toBe(200); // peak of 100, 400, 200
    p.close();
  });
});

describe("replay determinism", () => {
  /** Snapshots, intents and closes, interleaved: a drawdown that climbs past critical and recovers. */
  function stream(): ({ kind: "intents"; intents: Intent[] } | { kind: "portfolio"; snapshot: PortfolioSnapshot } | { kind: "close"; close: CloseEvent })[] {
    const intents = intentStream(240, { seed: 21, stepMs: 5000 });
    const drawdowns = [0, 3, 6, 9, 12, 16, 14, 9, 6, 4, 2, 0];
    const steps: ReturnType<typeof stream> = [];
    drawdowns.forEach((drawdown_pct, n) => {
      const chunk = intents.slice(n * 20, n * 20 + 20);
      steps.push({ kind: "portfolio", snapshot: portfolio({ ts: chunk[0]!.ts, drawdown_pct, num_positions: n % 4, total_exposure_usd: 1300 * (n % 4), realized_pnl_today: -25 * n }) });
      steps.push({ kind: "intents", intents: chunk.slice(0, 10) });
      steps.push({ kind: "close", close: { type: "close", symbol: chunk[3]!.symbol, ts: chunk[9]!.ts, pnl_usd: n % 3 === 0 ? 40 : -25, exit: n % 3 === 0 ? "take_profit" : "stop_loss" } });
      steps.push({ kind: "intents", intents: chunk.slice(10) });
    });
    return steps;
  }
  const limits: PolicyUpdate = {
    ess: ESS,
    max_drawdown_pct: 15,
    max_exposure_pct: 40,
    max_notional_usd: 400,
    stop_loss_multiplier: 1.1,
    capital: { profile: "MEDIUM" },
    cashflow: { profit_lock_pct: 30, reinvest_pct: 70, reserve_buffer_pct: 5, since: T0 },
  };

  function run(path: string, restartAt: number | null): string[] {
    let p = open(path, limits);
    const out: string[] = [];
    stream().forEach((step, i) => {
      if (i === restartAt) {
        p.close();
        p = open(path, limits);
      }
      if (step.kind === "portfolio") p.recordPortfolio(step.snapshot);
      else if (step.kind === "close") p.recordCloses([step.close]);
      else for (const v of p.process(step.intents)) out.push(JSON.stringify({ id: v.id, verdict: v.verdict, reasons: v.reasons, enforced: v.enforced }));
    });
    p.close();
    return out;
  }

  test("the same stream gives the same verdicts, also with the processor restarted at any point", () => {
    const first = run(journal(), null);
    // The stream reaches the account limits, so the comparison says something.
    const reasons = new Set(first.flatMap((line) => JSON.parse(line).reasons as string[]));
    for (const reason of ["ESS_CRITICAL", "ESS_WARNING", "ESS_CAUTION", "MAX_EXPOSURE", "DRAWDOWN_LIMIT", "MAX_POSITIONS", "DAILY_RISK"]) expect([reason, reasons.has(reason)]).toEqual([reason, true]);
    expect(first.filter((line) => line.includes('"PASS"')).length).toBeGreaterThan(5);
    expect(run(journal(), null)).toEqual(first);
    for (const restartAt of [1, 3, 7, 14, 19, 22, 27, 31, 38, 43]) expect(run(journal(), restartAt)).toEqual(first);
  });
});
