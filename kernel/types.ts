// The kernel's vocabulary: what an intent, a verdict and a close look like.
// Everything here is plain data so it can cross MQTT, HTTP and SQLite unchanged.

export const SIDES = ["BUY", "SELL"] as const;
export type Side = (typeof SIDES)[number];

export const REGIMES = ["TREND", "RANGE", "HIGH_VOL", "LOW_VOL"] as const;
export type Regime = (typeof REGIMES)[number];

/** Operating modes a hub decision can put the kernel in. FREEZE is a mode with an end time. */
export const MODES = ["LIVE", "SHADOW", "PAUSED", "EMERGENCY", "FREEZE"] as const;
export type Mode = (typeof MODES)[number];

/** How grave a freeze is; recorded with it so the node and the hub show it. */
export const FREEZE_SEVERITIES = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const;
export type FreezeSeverity = (typeof FREEZE_SEVERITIES)[number];

/** Capital profiles; each has default risk limits in the gate config (CAPITAL_<PROFILE>_*). */
export const CAPITAL_PROFILES = ["MICRO", "SMALL", "MEDIUM", "LARGE"] as const;
export type CapitalProfile = (typeof CAPITAL_PROFILES)[number];

/** `enforce`: a HOLD blocks the order. `audit`: gate HOLDs are recorded but not enforced. */
export const ENFORCEMENTS = ["enforce", "audit"] as const;
export type Enforcement = (typeof ENFORCEMENTS)[number];

export const SYSTEM_STATUSES = ["OPTIMAL", "HEALTHY", "DEGRADED", "CRITICAL", "EMERGENCY"] as const;
export type SystemStatus = (typeof SYSTEM_STATUSES)[number];
export const ESS_STATES = ["NOMINAL", "CAUTION", "WARNING", "CRITICAL"] as const;
export type EssState = (typeof ESS_STATES)[number];
export const EXIT_KINDS = ["stop_loss", "take_profit", "manual", "liquidation"] as const;
export type ExitKind = (typeof EXIT_KINDS)[number];

/** A strategy's portfolio as it reports it (the federation contract's names). `ts` in ms. */
export interface PortfolioSnapshot {
  total_equity: number;
  drawdown_pct: number;
  max_drawdown_pct: number;
  realized_pnl_today: number;
  unrealized_pnl: number;
  num_positions: number;
  total_exposure_usd: number;
  win_rate_today: number;
  sharpe_ratio_7d: number;
  ts: number;
}

/** A trade intent as a strategy sends it. `ts` is milliseconds since the epoch. */
export interface Intent {
  id: string;
  symbol: string;
  side: Side;
  qty: number;
  price: number;
  tp: number;
  sl: number;
  expected_move_usd: number;
  model: string;
  regime: Regime;
  leverage?: number;
  reduce_only?: boolean;
  ts: number;
}

/**
 * A reported position close; it restarts the symbol's cooldown, ends the
 * symbol's open risk, and its `pnl_usd` counts as realised profit or loss.
 */
export interface CloseEvent {
  type: "close";
  symbol: string;
  ts: number;
  /** The trade's realised profit (negative: loss) in USD. */
  pnl_usd?: number;
  /** How the position ended. */
  exit?: ExitKind;
}

/** The six economic gates, in the order their reasons are listed. */
export const GATE_REASONS = [
  "MIN_NOTIONAL",
  "EDGE_TOO_SMALL",
  "COOLDOWN",
  "RATE_LIMIT",
  "R_TOO_LOW",
  "MODEL_REGIME_MISMATCH",
] as const;

/** Risk limits set by hub decisions; checked before the economic gates. */
export const RISK_REASONS = [
  "SYMBOL_NOT_ACTIVE",
  "MODEL_DISABLED",
  "LEVERAGE_TOO_HIGH",
  "NOTIONAL_TOO_LARGE",
] as const;

/**
 * Risk limits judged against the node's account (the last portfolio snapshot
 * and what the kernel authorised and saw closed since): checked with the risk
 * limits above, and waived by audit like them. NO_PORTFOLIO: a limit that
 * needs the portfolio is on and none was reported yet.
 */
export const ACCOUNT_REASONS = [
  "NO_PORTFOLIO",
  "ESS_CRITICAL",
  "ESS_WARNING",
  "DRAWDOWN_LIMIT",
  "ESS_CAUTION",
  "MAX_POSITIONS",
  "MAX_EXPOSURE",
  "RISK_PER_TRADE",
  "DAILY_RISK",
] as const;

/**
 * Halt reasons: the kernel is not authorising new trades at all. OFFLINE is
 * the agent's own halt (EDGEFED_OFFLINE_HOLD_AFTER_S), not a hub mode.
 */
export const MODE_REASONS = ["MODE_SHADOW", "MODE_PAUSED", "MODE_EMERGENCY", "FROZEN", "OFFLINE"] as const;

/** Reasons that `audit` enforcement may waive (economic and risk); mode and input reasons never are. */
export type GateReason = (typeof GATE_REASONS)[number];
export type RiskReason = (typeof RISK_REASONS)[number] | (typeof ACCOUNT_REASONS)[number];
export type ModeReason = (typeof MODE_REASONS)[number];
/** `INVALID_INPUT:<field>` names the first field that made the intent unusable. */
export type InvalidReason = `INVALID_INPUT:${string}`;
export type Reason = GateReason | RiskReason | ModeReason | InvalidReason | "STALE_INTENT" | "FUTURE_INTENT";

export interface VerdictMetrics {
  notional: number | null;
  friction_usd: number | null;
  required_edge_usd: number | null;
  r_ratio: number | null;
}

export interface Verdict {
  id: string | null;
  verdict: "PASS" | "HOLD";
  /** Every failing check, primary reason first; empty on PASS. */
  reasons: Reason[];
  /** False only for a HOLD that `audit` enforcement lets through. */
  enforced: boolean;
  /** The mode in force at the intent's time. */
  mode: Mode;
  metrics: VerdictMetrics;
}

/** A verdict as the intent processor journals it: with its per-node sequence number. */
export interface JournaledVerdict extends Verdict {
  seq: number | null;
}
