// The node's account as the kernel knows it: the last portfolio snapshot the
// strategy reported, what the kernel authorised and saw closed since, the
// open risk of what it authorised, the profit the cashflow policy locks, and
// the emergency stop system's (ESS) state. In memory, like the trade window;
// the intent processor keeps it durable in its journal (account-journal.ts).
//
// "Since the snapshot" is in processing order: a snapshot says where the
// account stood when it was recorded, and what the kernel authorised or saw
// closed after that is not in it yet. A replay of the same stream of
// snapshots, intents and closes so rebuilds the same account and verdicts.
import { atLeast } from "./tolerance.ts";
import type { CashflowPolicy, EssThresholds, ResolvedLimits } from "./policy-limits.ts";
import type { EssState, PortfolioSnapshot } from "./types.ts";

/** What the gates read of the account. */
export interface AccountView {
  readonly snapshot: PortfolioSnapshot | null;
  /** Entries authorised since the snapshot, and their notional. */
  readonly entriesSinceSnapshot: number;
  readonly notionalSinceSnapshot: number;
  /** The sum of pnl_usd of closes recorded since the snapshot. */
  readonly realisedSinceSnapshot: number;
  /** Loss at stop of every entry authorised since its symbol's last close, in USD. */
  readonly openRisk: number;
  /** The highest cumulative realised profit since the cashflow policy took effect (0 or more). */
  readonly cashflowPeak: number;
  readonly ess: EssState;
}

/** The equity the risk gates use, and how it is made up. USD. */
export interface CapitalView {
  equity: number;
  locked_profit: number;
  reserve: number;
  tradable_equity: number;
}

/**
 * Locked profit is profit_lock_pct of the highest cumulative realised profit
 * (the sum of closes' pnl_usd) since the cashflow policy took effect: once
 * locked it stays locked while the policy stands, a later loss is borne by
 * the tradable part. The reserve is reserve_buffer_pct of total equity.
 * Tradable equity is what is left; it may be 0 or below, and then every
 * limit in % of it holds entries.
 */
export function capitalOf(account: AccountView, cashflow: CashflowPolicy | null | undefined): CapitalView | null {
  const snapshot = account.snapshot;
  if (!snapshot) return null;
  const equity = snapshot.total_equity;
  const locked = cashflow ? (cashflow.profit_lock_pct / 100) * account.cashflowPeak : 0;
  const reserve = cashflow ? (cashflow.reserve_buffer_pct / 100) * equity : 0;
  return { equity, locked_profit: locked, reserve, tradable_equity: equity - locked - reserve };
}

/** capitalOf(...).tradable_equity without building the view (the gates' hot path); 0 without a snapshot. */
export function tradableEquity(account: AccountView, cashflow: CashflowPolicy | null): number {
  const snapshot = account.snapshot;
  if (!snapshot) return 0;
  if (!cashflow) return snapshot.total_equity;
  return snapshot.total_equity - (cashflow.profit_lock_pct / 100) * account.cashflowPeak - (cashflow.reserve_buffer_pct / 100) * snapshot.total_equity;
}

/**
 * The ESS state machine. A state starts when drawdown is above its threshold
 * (a drawdown exactly at a threshold is still the state below, as limits are
 * inclusive elsewhere in the kernel). CRITICAL latches: it holds until
 * drawdown is back at or below the caution threshold (the lowest threshold
 * set, if caution is off), so a drawdown hovering about the critical line
 * does not flap between freezing and trading.
 */
export function nextEssState(current: EssState, drawdownPct: number, thresholds: EssThresholds | null | undefined): EssState {
  if (!thresholds) return "NOMINAL";
  const above = (threshold: number | null) => threshold !== null && !atLeast(threshold, drawdownPct);
  const { caution_threshold_pct: caution, warning_threshold_pct: warning, critical_threshold_pct: critical } = thresholds;
  if (above(critical)) return "CRITICAL";
  if (current === "CRITICAL" && critical !== null && above(caution ?? warning ?? critical)) return "CRITICAL";
  if (above(warning)) return "WARNING";
  if (above(caution)) return "CAUTION";
  return "NOMINAL";
}

export class Account implements AccountView {
  snapshot: PortfolioSnapshot | null = null;
  entriesSinceSnapshot = 0;
  notionalSinceSnapshot = 0;
  realisedSinceSnapshot = 0;
  openRisk = 0;
  cashflowPeak = 0;
  ess: EssState = "NOMINAL";
  private cashflowRealised = 0;
  private readonly riskBySymbol = new Map<string, number>();

  /** A new snapshot: what happened since the last one is in it now. A flat portfolio has no open risk. */
  recordSnapshot(snapshot: PortfolioSnapshot): void {
    this.snapshot = snapshot;
    this.entriesSinceSnapshot = 0;
    this.notionalSinceSnapshot = 0;
    this.realisedSinceSnapshot = 0;
    if (snapshot.num_positions === 0) this.clearOpenRisk();
  }

  /** An authorised entry (not an exit): one more position, its notional exposed and its loss at stop at risk. */
  recordEntry(symbol: string, notional: number, riskUsd: number): void {
    this.entriesSinceSnapshot++;
    this.notionalSinceSnapshot += notional;
    this.addOpenRisk(symbol, riskUsd);
  }

  /** A close: the symbol's risk is over, its profit or loss realised; `forCashflow` when it counts toward locked profit. */
  recordClose(symbol: string, pnlUsd: number | undefined, forCashflow: boolean): void {
    this.realisedSinceSnapshot += pnlUsd ?? 0;
    if (this.riskBySymbol.delete(symbol)) this.sumOpenRisk();
    if (forCashflow && pnlUsd !== undefined) this.addCashflowProfit(pnlUsd);
  }

  /** Adds to a symbol's open risk (also when rebuilding from the journal). */
  addOpenRisk(symbol: string, riskUsd: number): void {
    if (riskUsd <= 0) return;
    this.riskBySymbol.set(symbol, (this.riskBySymbol.get(symbol) ?? 0) + riskUsd);
    this.sumOpenRisk();
  }

  clearOpenRisk(): void {
    this.riskBySymbol.clear();
    this.openRisk = 0;
  }

  /** Starts the cashflow count over (a cashflow policy that starts at another time, or none). */
  resetCashflow(): void {
    this.cashflowRealised = 0;
    this.cashflowPeak = 0;
  }

  addCashflowProfit(pnlUsd: number): void {
    this.cashflowRealised += pnlUsd;
    if (this.cashflowRealised > this.cashflowPeak) this.cashflowPeak = this.cashflowRealised;
  }

  /**
   * Summed afresh, by symbol in a fixed order, rather than kept as a running
   * total: the same per-symbol risks then give the same total to the last
   * bit however they were reached (the journal rebuilds them symbol by symbol).
   */
  private sumOpenRisk(): void {
    let total = 0;
    for (const symbol of [...this.riskBySymbol.keys()].sort()) total += this.riskBySymbol.get(symbol)!;
    this.openRisk = total;
  }
}

/** What the account looks like to the agent's status: the ESS state, the capital model, the positions MAX_POSITIONS counts. */
export interface AccountStatus {
  ess_state: EssState;
  /** null until a portfolio is reported. */
  capital: CapitalView | null;
  positions: { open: number; in_snapshot: number; authorised_since_snapshot: number } | null;
  /** What MAX_EXPOSURE adds an entry to: the snapshot's exposure and the notional authorised since (null: no snapshot). */
  exposure_usd: number | null;
  /** What DAILY_RISK reads as today's realised pnl: the snapshot's and that of the closes since (null: no snapshot). */
  realized_pnl_today: number | null;
  open_risk_usd: number;
  /** The ts of the snapshot in force. */
  portfolio_ts: number | null;
  /** The account limits in force, the capital profile's defaults filled in (null: off). */
  risk_limits: {
    max_positions: number | null;
    max_risk_per_trade_pct: number | null;
    max_daily_risk_pct: number | null;
    max_exposure_pct: number | null;
    max_drawdown_pct: number | null;
    stop_loss_multiplier: number;
    ess: EssThresholds | null;
    cashflow: CashflowPolicy | null;
  };
}

export function accountStatus(account: AccountView, limits: ResolvedLimits): AccountStatus {
  const snapshot = account.snapshot;
  return {
    ess_state: account.ess,
    capital: capitalOf(account, limits.cashflow),
    positions: snapshot
      ? { open: snapshot.num_positions + account.entriesSinceSnapshot, in_snapshot: snapshot.num_positions, authorised_since_snapshot: account.entriesSinceSnapshot }
      : null,
    exposure_usd: snapshot ? snapshot.total_exposure_usd + account.notionalSinceSnapshot : null,
    realized_pnl_today: snapshot ? snapshot.realized_pnl_today + account.realisedSinceSnapshot : null,
    open_risk_usd: account.openRisk,
    portfolio_ts: snapshot?.ts ?? null,
    risk_limits: {
      max_positions: limits.maxPositions,
      max_risk_per_trade_pct: limits.riskPerTradePct,
      max_daily_risk_pct: limits.dailyRiskPct,
      max_exposure_pct: limits.maxExposurePct,
      max_drawdown_pct: limits.maxDrawdownPct,
      stop_loss_multiplier: limits.stopLossMultiplier,
      ess: limits.ess,
      cashflow: limits.cashflow,
    },
  };
}

/** An account with nothing reported: what the gates see without one. */
export const NO_ACCOUNT: AccountView = Object.freeze(new Account());
