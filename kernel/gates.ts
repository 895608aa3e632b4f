// The profit-gate kernel: one intent in, one verdict out. Pure: it reads the
// trade window but never changes it, and does no I/O, so the same intent,
// config, policy and history always give the same verdict.
import { ALLOWED_MODELS_KEY, MIN_R_KEY, frictionBps, type GateConfig } from "./config.ts";
import { effectiveConfig, modeAt, type KernelPolicy } from "./policy.ts";
import type { TradeWindow } from "./trade-window.ts";
import type { Intent, Mode, Reason, Regime, Verdict, VerdictMetrics } from "./types.ts";
import { REGIMES } from "./types.ts";
import { invalidFields, MAX_FUTURE_SKEW_MS } from "./validate-intent.ts";

/**
 * Thresholds are inclusive, and a value equal to its threshold in decimal must
 * pass even when binary floating point lands a hair below it (0.1 * 250 is
 * 25.000000000000004, 0.25 / 0.1 is 2.4999999999999996): comparisons allow
 * a relative 1e-9.
 */
const TOLERANCE = 1e-9;
export function atLeast(value: number, minimum: number): boolean {
  return value >= minimum - Math.abs(minimum) * TOLERANCE;
}

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

export function evaluate(input: unknown, ctx: GateContext, window: TradeWindow, now?: number): Verdict {
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
  const rRatio = intent.reduce_only
    ? null
    : Math.abs(intent.tp - intent.price) / Math.abs(intent.price - intent.sl);
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

  const { policy } = ctx;
  if (ctx.activeSymbols && !ctx.activeSymbols.has(intent.symbol)) reasons.push("SYMBOL_NOT_ACTIVE");
  if (policy.model_weights && policy.model_weights[intent.model] === 0) reasons.push("MODEL_DISABLED");
  if (policy.max_leverage !== null && !atLeast(policy.max_leverage, intent.leverage ?? 1)) reasons.push("LEVERAGE_TOO_HIGH");
  if (policy.max_notional_usd !== null && !atLeast(policy.max_notional_usd, notional)) reasons.push("NOTIONAL_TOO_LARGE");

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
