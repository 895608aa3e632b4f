// The profit-gate kernel: one intent in, one verdict out. Pure: it reads the
// trade window and the account but never changes them, and does no I/O, so
// the same intent, config, policy, history and account always give the same
// verdict.
import { NO_ACCOUNT, tradableEquity, type AccountView } from "./account.ts";
import { ALLOWED_MODELS_KEY, MIN_R_KEY, frictionBps, type GateConfig } from "./config.ts";
import { effectiveConfig, modeAt, type KernelPolicy } from "./policy.ts";
import { resolveLimits, type ResolvedLimits } from "./policy-limits.ts";
import { atLeast } from "./tolerance.ts";
import type { TradeWindow } from "./trade-window.ts";
import type { Intent, Mode, PortfolioSnapshot, Reason, Regime, Verdict, VerdictMetrics } from "./types.ts";
import { REGIMES } from "./types.ts";
import { invalidFields, MAX_FUTURE_SKEW_MS } from "./validate-intent.ts";

export { atLeast };

/** Config and policy prepared once for fast repeated evaluation. */
export interface GateContext {
  config: GateConfig;
  policy: KernelPolicy;
  frictionBps: number;
  knownModels: ReadonlySet<string>;
  allowedModels: Readonly<Record<Regime, ReadonlySet<string>>>;
  activeSymbols: ReadonlySet<string> | null;
  /** A halt the node itself imposes (OFFLINE), on top of the policy's mode; null: none. */
  halt: "OFFLINE" | null;
  /** The account limits in force, capital profile defaults filled in from the config. */
  limits: ResolvedLimits;
  /** Weights by model, scaling the notional cap; null: no weights. A Map, so no model name can reach an inherited property. */
  modelWeights: ReadonlyMap<string, number> | null;
}

export function compileContext(fileConfig: GateConfig, policy: KernelPolicy, halt: GateContext["halt"] = null): GateContext {
  const config = effectiveConfig(fileConfig, policy);
  const allowedModels = {} as Record<Regime, ReadonlySet<string>>;
  for (const regime of REGIMES) allowedModels[regime] = new Set(config[ALLOWED_MODELS_KEY[regime]] as string[]);
  const knownModels = new Set(REGIMES.flatMap((regime) => [...allowedModels[regime]]));
  return {
    config,
    policy,
    frictionBps: frictionBps(config),
    knownModels,
    allowedModels,
    activeSymbols: policy.active_symbols ? new Set(policy.active_symbols) : null,
    halt,
    limits: resolveLimits(config, policy),
    modelWeights: policy.model_weights ? new Map(Object.entries(policy.model_weights)) : null,
  };
}

const MODE_REASON: Partial<Record<Mode, Reason>> = {
  SHADOW: "MODE_SHADOW",
  PAUSED: "MODE_PAUSED",
  EMERGENCY: "MODE_EMERGENCY",
  FREEZE: "FROZEN",
};

function hold(id: string | null, reasons: Reason[], mode: Mode, metrics: VerdictMetrics): Verdict {
  return { id, verdict: "HOLD", reasons, enforced: true, mode, metrics };
}

const NO_METRICS: VerdictMetrics = Object.freeze({ notional: null, friction_usd: null, required_edge_usd: null, r_ratio: null });

/**
 * The notional cap for a model: max_notional_usd times the model's weight
 * (STRATEGY_ALLOCATION; a model without one takes the whole cap, and weight 0
 * is MODEL_DISABLED rather than a cap of 0); null without a cap.
 */
function notionalCap(ctx: GateContext, model: string): number | null {
  const cap = ctx.policy.max_notional_usd;
  if (cap === null || ctx.modelWeights === null) return cap;
  const weight = ctx.modelWeights.get(model);
  return weight === undefined || weight === 0 ? cap : cap * weight;
}

/**
 * `account`: the node's account (the intent processor passes its own);
 * without one, every limit that needs a portfolio holds with NO_PORTFOLIO.
 */
export function evaluate(input: unknown, ctx: GateContext, window: TradeWindow, now?: number, account: AccountView = NO_ACCOUNT): Verdict {
  const invalid = invalidFields(input, ctx.knownModels);
  const raw = input as Record<string, unknown> | null;
  const id = typeof raw?.id === "string" && !invalid.includes("INVALID_INPUT:id") ? raw.id : null;
  // Never the wall clock: an intent without a usable ts is judged at time 0,
  // which keeps the verdict reproducible (and inside any freeze).
  const ts = typeof raw?.ts === "number" && Number.isFinite(raw.ts) ? raw.ts : 0;
  const mode = modeAt(ctx.policy, ts);
  if (invalid.length) return hold(id, invalid, mode, { ...NO_METRICS });

  const intent = input as Intent;
  const { config } = ctx;
  const notional = intent.price * intent.qty;
  const frictionUsd = (notional * ctx.frictionBps) / 10_000;
  const requiredEdgeUsd = frictionUsd * config.EDGE_MULTIPLIER;
  // stop_loss_multiplier widens the stop distance (1 when off, which leaves the ratio exactly as it was).
  const rRatio = intent.reduce_only
    ? null
    : Math.abs(intent.tp - intent.price) / (Math.abs(intent.price - intent.sl) * ctx.limits.stopLossMultiplier);
  const metrics: VerdictMetrics = {
    notional,
    friction_usd: frictionUsd,
    required_edge_usd: requiredEdgeUsd,
    r_ratio: rRatio,
  };
  const modeReason = MODE_REASON[mode];

  // Exits are never trapped: a well-formed reduce-only order skips every gate
  // and every halt, except SHADOW, which never authorises anything.
  if (intent.reduce_only) {
    return mode === "SHADOW" ? hold(intent.id, ["MODE_SHADOW"], mode, metrics) : pass(intent.id, mode, metrics);
  }
  if (window.isStale(intent.ts)) return hold(intent.id, ["STALE_INTENT"], mode, metrics);
  // Only checked when the caller passes the time (the processor does; replays of recorded intents are in the past anyway).
  if (now !== undefined && intent.ts > now + MAX_FUTURE_SKEW_MS) return hold(intent.id, ["FUTURE_INTENT"], mode, metrics);

  const reasons: Reason[] = [];
  if (modeReason) reasons.push(modeReason);
  if (ctx.halt) reasons.push(ctx.halt);

  const { policy, limits } = ctx;
  const snapshot = limits.needsPortfolio ? account.snapshot : null;
  if (limits.needsPortfolio) pushAccountHalts(snapshot, limits, account, reasons);
  if (ctx.activeSymbols && !ctx.activeSymbols.has(intent.symbol)) reasons.push("SYMBOL_NOT_ACTIVE");
  if (policy.model_weights && policy.model_weights[intent.model] === 0) reasons.push("MODEL_DISABLED");
  if (policy.max_leverage !== null && !atLeast(policy.max_leverage, intent.leverage ?? 1)) reasons.push("LEVERAGE_TOO_HIGH");
  const cap = notionalCap(ctx, intent.model);
  if (cap !== null && !atLeast(cap, notional)) reasons.push("NOTIONAL_TOO_LARGE");
  if (snapshot) pushSizingReasons(intent, notional, cap, snapshot, limits, account, reasons);

  if (!atLeast(notional, config.MIN_NOTIONAL_USD)) reasons.push("MIN_NOTIONAL");
  if (!atLeast(intent.expected_move_usd, requiredEdgeUsd)) reasons.push("EDGE_TOO_SMALL");
  const cooldownFrom = window.cooldownFrom(intent.symbol);
  if (cooldownFrom !== undefined && !atLeast(intent.ts - cooldownFrom, config.MIN_HOLD_SECONDS * 1000)) {
    reasons.push("COOLDOWN");
  }
  if (window.wouldExceedRate(intent.ts, config.MAX_TRADES_10MIN)) reasons.push("RATE_LIMIT");
  if (!atLeast(rRatio!, config[MIN_R_KEY[intent.regime]] as number)) reasons.push("R_TOO_LOW");
  if (!ctx.allowedModels[intent.regime].has(intent.model)) reasons.push("MODEL_REGIME_MISMATCH");

  if (reasons.length === 0) return pass(intent.id, mode, metrics);
  // `audit` waives gate and risk HOLDs (the order goes ahead, the HOLD is on
  // record); it never waives a halt such as PAUSED or EMERGENCY.
  const enforced = modeReason !== undefined || ctx.halt !== null || policy.enforcement === "enforce";
  return { id: intent.id, verdict: "HOLD", reasons, enforced, mode, metrics };
}

/** NO_PORTFOLIO, or the account's halts: the ESS's WARNING and CRITICAL, and DRAWDOWN_LIMIT. */
function pushAccountHalts(snapshot: PortfolioSnapshot | null, limits: ResolvedLimits, account: AccountView, reasons: Reason[]): void {
  if (!snapshot) {
    reasons.push("NO_PORTFOLIO");
    return;
  }
  if (limits.ess && account.ess === "CRITICAL") reasons.push("ESS_CRITICAL");
  else if (limits.ess && account.ess === "WARNING") reasons.push("ESS_WARNING");
  if (limits.maxDrawdownPct !== null && !atLeast(limits.maxDrawdownPct, snapshot.drawdown_pct)) reasons.push("DRAWDOWN_LIMIT");
}

/**
 * The limits on an entry's size against the account, each inclusive (at the
 * limit passes), percentages of tradable equity (account.ts). The entry's
 * risk is its loss at the stop, the stop distance widened by
 * stop_loss_multiplier.
 */
function pushSizingReasons(
  intent: Intent,
  notional: number,
  cap: number | null,
  snapshot: PortfolioSnapshot,
  limits: ResolvedLimits,
  account: AccountView,
  reasons: Reason[],
): void {
  const riskUsd = entryRisk(intent, limits);
  const tradable = tradableEquity(account, limits.cashflow);
  const share = (pct: number) => (pct * tradable) / 100;
  // CAUTION halves what a single entry may take: the notional cap and the risk per trade.
  if (limits.ess && account.ess === "CAUTION") {
    const overHalfCap = cap !== null && !atLeast(cap / 2, notional);
    const overHalfRisk = limits.riskPerTradePct !== null && !atLeast(share(limits.riskPerTradePct) / 2, riskUsd);
    if (overHalfCap || overHalfRisk) reasons.push("ESS_CAUTION");
  }
  if (limits.maxPositions !== null && !atLeast(limits.maxPositions, snapshot.num_positions + account.entriesSinceSnapshot + 1)) {
    reasons.push("MAX_POSITIONS");
  }
  if (limits.maxExposurePct !== null && !atLeast(share(limits.maxExposurePct), snapshot.total_exposure_usd + account.notionalSinceSnapshot + notional)) {
    reasons.push("MAX_EXPOSURE");
  }
  if (limits.riskPerTradePct !== null && !atLeast(share(limits.riskPerTradePct), riskUsd)) reasons.push("RISK_PER_TRADE");
  if (limits.dailyRiskPct !== null) {
    const realisedLoss = Math.max(0, -(snapshot.realized_pnl_today + account.realisedSinceSnapshot));
    if (!atLeast(share(limits.dailyRiskPct), realisedLoss + account.openRisk + riskUsd)) reasons.push("DAILY_RISK");
  }
}

function pass(id: string, mode: Mode, metrics: VerdictMetrics): Verdict {
  return { id, verdict: "PASS", reasons: [], enforced: true, mode, metrics };
}

/** Whether the order may be placed: a PASS, or a HOLD that audit enforcement waives. */
export function isAuthorised(verdict: Verdict): boolean {
  return verdict.verdict === "PASS" || !verdict.enforced;
}

/** Whether an authorised verdict starts a cooldown and takes a slot in the rate window (exits do not). */
export function countsAsTrade(verdict: Verdict, input: unknown): boolean {
  return isAuthorised(verdict) && (input as Intent).reduce_only !== true;
}

/** An entry's loss at its stop (widened by stop_loss_multiplier), in USD: what RISK_PER_TRADE judges and what it adds to open risk. */
export function entryRisk(intent: Intent, limits: Pick<ResolvedLimits, "stopLossMultiplier">): number {
  return intent.qty * Math.abs(intent.price - intent.sl) * limits.stopLossMultiplier;
}
