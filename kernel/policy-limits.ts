// The policy's account limits (issue 11): the limits judged against the
// node's account rather than the intent alone (capital profile, drawdown,
// exposure, the emergency stop system's thresholds, the cashflow model) and
// how an update of them is validated. Pure; policy.ts folds them into the
// rest of the policy, gates.ts resolves and judges them.
import { CAPITAL_PROFILE_KEYS, type GateConfig } from "./config.ts";
import { CAPITAL_PROFILES, type CapitalProfile } from "./types.ts";

/**
 * A capital profile and its explicit overrides. A limit absent here takes the
 * profile's default from the gate config (CAPITAL_<PROFILE>_*); null turns
 * it off whatever the profile says.
 */
export interface CapitalPolicy {
  /** null: no profile, only the explicit limits below. */
  profile: CapitalProfile | null;
  max_risk_per_trade_pct?: number | null;
  max_daily_risk_pct?: number | null;
  max_positions?: number | null;
}

/** Drawdown (in % of the portfolio's peak) above which each ESS state starts; null: that state is off. */
export interface EssThresholds {
  caution_threshold_pct: number | null;
  warning_threshold_pct: number | null;
  critical_threshold_pct: number | null;
}

/** The capital model: what part of realised profit is locked and what part of equity is held in reserve. */
export interface CashflowPolicy {
  profit_lock_pct: number;
  reinvest_pct: number;
  reserve_buffer_pct: number;
  /** When the cashflow policy first took effect (the decision's issuedAt, ms): profit realised from then on is counted. */
  since: number;
}

/** The account limits of a policy; every one null (or absent, in a policy stored before they existed) is off. */
export interface AccountLimits {
  capital?: CapitalPolicy | null;
  /** DRAWDOWN_LIMIT: entries hold while the portfolio's drawdown_pct is above it. */
  max_drawdown_pct?: number | null;
  /** MAX_EXPOSURE: exposure after the entry, in % of tradable equity. */
  max_exposure_pct?: number | null;
  /** Widens every stop distance the kernel judges by (R ratio, risk per trade, daily risk); null: 1. */
  stop_loss_multiplier?: number | null;
  ess?: EssThresholds | null;
  cashflow?: CashflowPolicy | null;
}

export const NO_ACCOUNT_LIMITS: Readonly<Required<AccountLimits>> = Object.freeze({
  capital: null,
  max_drawdown_pct: null,
  max_exposure_pct: null,
  stop_loss_multiplier: null,
  ess: null,
  cashflow: null,
});

/** How a policy update changes the account limits; `null` turns a limit (or block) off. */
export interface AccountLimitsUpdate {
  /** With `profile`: the profile and exactly the overrides given. Without: the overrides given change, the rest stay. */
  capital?: { profile?: CapitalProfile | null; max_risk_per_trade_pct?: number | null; max_daily_risk_pct?: number | null; max_positions?: number | null } | null;
  max_drawdown_pct?: number | null;
  max_exposure_pct?: number | null;
  stop_loss_multiplier?: number | null;
  /** The thresholds given change, the others stay. */
  ess?: Partial<EssThresholds> | null;
  /**
   * `since` is kept from the cashflow policy in force, if any: locked profit
   * keeps counting from when it first took effect. Absent on a first one: 0,
   * every close counts.
   */
  cashflow?: { profit_lock_pct: number; reinvest_pct: number; reserve_buffer_pct?: number; since?: number } | null;
}

export const ACCOUNT_UPDATE_KEYS = ["capital", "max_drawdown_pct", "max_exposure_pct", "stop_loss_multiplier", "ess", "cashflow"] as const;

const CAPITAL_LIMIT_KEYS = ["max_risk_per_trade_pct", "max_daily_risk_pct", "max_positions"] as const;
const ESS_KEYS = ["caution_threshold_pct", "warning_threshold_pct", "critical_threshold_pct"] as const;

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A percentage above 0 and at most 100, or null (off). */
function percentOrNull(value: unknown, name: string, violations: string[]): number | null {
  if (value === null) return null;
  if (!isFiniteNumber(value) || value <= 0 || value > 100) {
    violations.push(`${name}: must be a percentage above 0 and at most 100, or null (off)`);
    return null;
  }
  return value;
}

function unknownKeys(value: Record<string, unknown>, known: readonly string[], name: string, violations: string[]): void {
  const extra = Object.keys(value).filter((k) => !known.includes(k));
  if (extra.length) violations.push(`${name}: unknown field ${extra.join(", ")}`);
}

function capitalUpdate(current: CapitalPolicy | null | undefined, u: unknown, violations: string[]): CapitalPolicy | null {
  if (u === null) return null;
  if (!isObject(u)) {
    violations.push("capital: must be {profile, max_risk_per_trade_pct, max_daily_risk_pct, max_positions} or null (off)");
    return null;
  }
  unknownKeys(u, ["profile", ...CAPITAL_LIMIT_KEYS], "capital", violations);
  // A new profile starts from its own defaults: overrides of the one before do not carry over.
  const next: CapitalPolicy = "profile" in u ? { profile: null } : { ...(current ?? { profile: null }) };
  if ("profile" in u) {
    if (u.profile === null || CAPITAL_PROFILES.includes(u.profile as CapitalProfile)) next.profile = u.profile as CapitalProfile | null;
    else violations.push(`profile: must be one of ${CAPITAL_PROFILES.join(", ")}`);
  }
  if ("max_risk_per_trade_pct" in u) next.max_risk_per_trade_pct = percentOrNull(u.max_risk_per_trade_pct, "max_risk_per_trade_pct", violations);
  if ("max_daily_risk_pct" in u) next.max_daily_risk_pct = percentOrNull(u.max_daily_risk_pct, "max_daily_risk_pct", violations);
  if ("max_positions" in u) {
    const n = u.max_positions;
    if (n !== null && !(Number.isSafeInteger(n) && (n as number) >= 0)) violations.push("max_positions: must be a whole number, 0 or more, or null (off)");
    else next.max_positions = n as number | null;
  }
  return next;
}

function essUpdate(current: EssThresholds | null | undefined, u: unknown, violations: string[]): EssThresholds | null {
  if (u === null) return null;
  if (!isObject(u)) {
    violations.push("ess: must be {caution_threshold_pct, warning_threshold_pct, critical_threshold_pct} or null (off)");
    return null;
  }
  unknownKeys(u, ESS_KEYS, "ess", violations);
  const next: EssThresholds = { ...(current ?? { caution_threshold_pct: null, warning_threshold_pct: null, critical_threshold_pct: null }) };
  for (const key of ESS_KEYS) if (key in u) next[key] = percentOrNull(u[key], key, violations);
  // The states escalate with drawdown: a later state cannot start below an earlier one.
  const set = ESS_KEYS.filter((key) => next[key] !== null);
  for (let i = 1; i < set.length; i++) {
    if (next[set[i]!]! < next[set[i - 1]!]!) violations.push(`${set[i]}: must be at least ${set[i - 1]} (${next[set[i - 1]!]})`);
  }
  return ESS_KEYS.every((key) => next[key] === null) ? null : next;
}

function cashflowUpdate(current: CashflowPolicy | null | undefined, u: unknown, violations: string[]): CashflowPolicy | null {
  if (u === null) return null;
  if (!isObject(u)) {
    violations.push("cashflow: must be {profit_lock_pct, reinvest_pct, reserve_buffer_pct} or null (off)");
    return null;
  }
  unknownKeys(u, ["profit_lock_pct", "reinvest_pct", "reserve_buffer_pct", "since"], "cashflow", violations);
  const share = (key: string, required: boolean): number => {
    const value = u[key];
    if (value === undefined && !required) return 0;
    if (value === undefined) violations.push(`${key}: required (profit_lock_pct + reinvest_pct = 100)`);
    else if (!isFiniteNumber(value) || value < 0 || value > 100) violations.push(`${key}: must be a percentage from 0 to 100`);
    return isFiniteNumber(value) ? value : 0;
  };
  const lock = share("profit_lock_pct", true);
  const reinvest = share("reinvest_pct", true);
  const reserve = share("reserve_buffer_pct", false);
  if (reserve >= 100) violations.push("reserve_buffer_pct: must be below 100 (a reserve of all equity leaves nothing to trade)");
  // Within the same relative 1e-9 the gates allow, so 33.3 + 66.7 counts as 100.
  if (isFiniteNumber(u.profit_lock_pct) && isFiniteNumber(u.reinvest_pct) && Math.abs(lock + reinvest - 100) > 100 * 1e-9) {
    violations.push(`profit_lock_pct + reinvest_pct: must be 100 (is ${lock + reinvest})`);
  }
  // Absent (a policy file for the gate command): every close counts.
  const since = current ? current.since : (u.since ?? 0);
  if (!isFiniteNumber(since) || since < 0) violations.push("cashflow.since: must be a time in ms since the epoch");
  return { profit_lock_pct: lock, reinvest_pct: reinvest, reserve_buffer_pct: reserve, since: since as number };
}

/** Applies the account-limit fields of an update to `next` (a copy of the current policy), listing every violation. */
export function applyAccountLimitsUpdate(next: AccountLimits, u: Record<string, unknown>, violations: string[]): void {
  if ("capital" in u) next.capital = capitalUpdate(next.capital, u.capital, violations);
  if ("max_drawdown_pct" in u) next.max_drawdown_pct = percentOrNull(u.max_drawdown_pct, "max_drawdown_pct", violations);
  if ("max_exposure_pct" in u) {
    // Exposure may exceed equity (leverage): any positive percentage.
    const value = u.max_exposure_pct;
    if (value !== null && !(isFiniteNumber(value) && value > 0)) violations.push("max_exposure_pct: must be a positive percentage, or null (off)");
    else next.max_exposure_pct = value as number | null;
  }
  if ("stop_loss_multiplier" in u) {
    const value = u.stop_loss_multiplier;
    // Below 1 would narrow the stop and so loosen every limit that reads it: refused, fail-closed.
    if (value !== null && !(isFiniteNumber(value) && value >= 1 && value <= 100)) violations.push("stop_loss_multiplier: must be a number from 1 to 100, or null (1)");
    else next.stop_loss_multiplier = value as number | null;
  }
  if ("ess" in u) next.ess = essUpdate(next.ess, u.ess, violations);
  if ("cashflow" in u) next.cashflow = cashflowUpdate(next.cashflow, u.cashflow, violations);
}

/** The account limits in force, with the capital profile's defaults filled in from the gate config. */
export interface ResolvedLimits {
  maxPositions: number | null;
  riskPerTradePct: number | null;
  dailyRiskPct: number | null;
  maxExposurePct: number | null;
  maxDrawdownPct: number | null;
  ess: EssThresholds | null;
  /** 1 when off. */
  stopLossMultiplier: number;
  cashflow: CashflowPolicy | null;
  /** Some limit above is on, and so needs a portfolio to be judged (NO_PORTFOLIO without one). */
  needsPortfolio: boolean;
}

/** A capital limit: the explicit override (null: off), else the profile's default, else off. */
function capitalLimit(capital: CapitalPolicy | null | undefined, key: (typeof CAPITAL_LIMIT_KEYS)[number], config: GateConfig, configKey: keyof (typeof CAPITAL_PROFILE_KEYS)["MICRO"]): number | null {
  if (!capital) return null;
  const explicit = capital[key];
  if (explicit !== undefined) return explicit;
  return capital.profile ? (config[CAPITAL_PROFILE_KEYS[capital.profile][configKey]] as number) : null;
}

export function resolveLimits(config: GateConfig, policy: AccountLimits): ResolvedLimits {
  const capital = policy.capital;
  const limits = {
    maxPositions: capitalLimit(capital, "max_positions", config, "maxPositions"),
    riskPerTradePct: capitalLimit(capital, "max_risk_per_trade_pct", config, "riskPerTradePct"),
    dailyRiskPct: capitalLimit(capital, "max_daily_risk_pct", config, "dailyRiskPct"),
    maxExposurePct: policy.max_exposure_pct ?? null,
    maxDrawdownPct: policy.max_drawdown_pct ?? null,
    ess: policy.ess ?? null,
    stopLossMultiplier: policy.stop_loss_multiplier ?? 1,
    cashflow: policy.cashflow ?? null,
  };
  const needsPortfolio = [limits.maxPositions, limits.riskPerTradePct, limits.dailyRiskPct, limits.maxExposurePct, limits.maxDrawdownPct, limits.ess].some((l) => l !== null);
  return { ...limits, needsPortfolio };
}
