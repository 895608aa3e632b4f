// What each decision type does to a node's kernel policy. Hub and agent both
// use this: the hub to validate a decision before signing it and to keep the
// desired policy, the agent to apply it. RESEARCH_TASK and OVERRIDE change no
// policy; they are recorded and acknowledged (their payloads:
// override-and-research.ts).
//
// Payload fields are the federation contract's names (issue 11); the fields
// each type took before it stay accepted (duration_s, max_notional_usd,
// thresholds, ...), so earlier decisions and scripts keep working.
import { MODES, type Mode } from "../kernel/types.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, type BaseMode, type PolicyUpdate } from "../kernel/policy.ts";
import type { DecisionType } from "./messages.ts";
import { recordPayloadProblems } from "./override-and-research.ts";

export type DecisionEffect =
  | { kind: "policy"; update: PolicyUpdate }
  | { kind: "record" }
  | { kind: "invalid"; violations: string[] };

/** What the hub checks a STRATEGY_ALLOCATION's model names against: the models its target nodes allow, and whose. */
export interface TargetModels {
  allowed: ReadonlySet<string>;
  /** "node pi-01", "any node of the fleet": ends the refusal's text. */
  of: string;
}

type Payload = Record<string, unknown>;

/** Builds a type's policy update from its payload; problems it finds go into `violations`. */
type Translate = (payload: Payload, issuedAt: number, violations: string[]) => PolicyUpdate;

interface PolicyType {
  /** The payload fields it accepts, the contract's first; `reason` (free text for the audit trail) is accepted by all. */
  fields: readonly string[];
  translate: Translate;
}

/** Payload fields that are policy fields of the same name. */
const SAME_NAME = ["max_leverage", "max_notional_usd", "thresholds", "enforcement", "active_symbols", "model_weights", "max_drawdown_pct", "max_exposure_pct", "stop_loss_multiplier"];

/** The payload's fields that keep their name in the policy update. */
function sameName(payload: Payload): PolicyUpdate {
  const update: Record<string, unknown> = {};
  for (const key of SAME_NAME) if (key in payload) update[key] = payload[key];
  return update as PolicyUpdate;
}

const MAX_REASON_LENGTH = 512;

/**
 * A duration in ms from `duration_minutes` (0 or absent: none) or, as before
 * issue 11, `duration_s` (positive); null when there is none.
 */
function durationMs(payload: Payload, violations: string[]): number | null {
  if ("duration_minutes" in payload && "duration_s" in payload) {
    violations.push("duration_minutes, duration_s: give one (duration_s is the older name, in seconds)");
    return null;
  }
  if ("duration_minutes" in payload) {
    const minutes = payload.duration_minutes;
    if (typeof minutes !== "number" || !Number.isFinite(minutes) || minutes < 0) {
      violations.push("duration_minutes: must be a number of minutes, 0 or more (0 or absent: no end)");
      return null;
    }
    return minutes === 0 ? null : Math.round(minutes * 60_000);
  }
  if ("duration_s" in payload) {
    const seconds = payload.duration_s;
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) {
      violations.push("duration_s: must be a positive number of seconds, or absent for no end");
      return null;
    }
    return Math.round(seconds * 1000);
  }
  return null;
}

/** A freeze from issuedAt, for `duration` ms or indefinitely, with its severity and the decision's reason. */
function freeze(payload: Payload, issuedAt: number, duration: number | null): PolicyUpdate {
  const update: PolicyUpdate = { mode: "FREEZE" };
  if (duration !== null) update.freeze_until = issuedAt + duration;
  if ("severity" in payload) update.freeze_severity = payload.severity as PolicyUpdate["freeze_severity"];
  if (typeof payload.reason === "string") update.freeze_reason = payload.reason;
  return update;
}

/**
 * MODE_CHANGE: with a duration, a mode window from issuedAt for that long, so
 * the mode in force before comes back by itself when it ends (judged by
 * intent time, no timer); FREEZE with a duration freezes until then. With
 * `from` and `until` (ms), a window then. Without either, the base mode from
 * now on: it ends a freeze and any window in force at issuedAt (windows
 * later than that stay).
 */
const modeChange: Translate = (payload, issuedAt, violations) => {
  const duration = durationMs(payload, violations);
  const windowed = "from" in payload || "until" in payload;
  if (windowed && !("from" in payload && "until" in payload)) violations.push("from, until: a mode window needs both");
  if (windowed && duration !== null) violations.push("duration_minutes: not with from and until (a window has its own end)");
  const mode = payload.mode as Mode;
  if (!("mode" in payload)) violations.push("mode: required");
  else if (!MODES.includes(mode)) violations.push(`mode: must be one of ${MODES.join(", ")}`);
  if (!MODES.includes(mode)) return {};
  if (windowed) return { mode_window: { mode: mode as BaseMode, from: payload.from as number, until: payload.until as number } };
  if (mode === "FREEZE") return freeze(payload, issuedAt, duration);
  if (duration !== null) return { mode_window: { mode: mode as BaseMode, from: issuedAt, until: issuedAt + duration } };
  return { mode, windows_end_at: issuedAt };
};

/** Whole: a new profile starts from its defaults (core_gates.env), the fields given override them. */
const capitalProfile: Translate = (payload) => {
  const update = sameName(payload);
  const capital: Record<string, unknown> = {};
  for (const key of ["profile", "max_risk_per_trade_pct", "max_daily_risk_pct", "max_positions"]) if (key in payload) capital[key] = payload[key];
  if (Object.keys(capital).length) update.capital = capital as PolicyUpdate["capital"];
  return update;
};

const riskAdjustment: Translate = (payload, _issuedAt, violations) => {
  const update = sameName(payload);
  if ("max_position_size_usd" in payload) {
    if ("max_notional_usd" in payload) violations.push("max_position_size_usd, max_notional_usd: give one (max_notional_usd is the older name)");
    update.max_notional_usd = payload.max_position_size_usd as number | null;
  }
  return update;
};

const essPolicy: Translate = (payload) => {
  const update = sameName(payload);
  const ess: Record<string, unknown> = {};
  for (const key of ["caution_threshold_pct", "warning_threshold_pct", "critical_threshold_pct"]) if (key in payload) ess[key] = payload[key];
  if (Object.keys(ess).length) update.ess = ess;
  return update;
};

/** The cashflow model counts realised profit from issuedAt (kept from the first CASHFLOW while one stays in force). */
const cashflow: Translate = (payload, issuedAt) => {
  const update = sameName(payload);
  const shares = ["profit_lock_pct", "reinvest_pct", "reserve_buffer_pct"].filter((key) => key in payload);
  if (shares.length === 0) return update;
  const given = Object.fromEntries(shares.map((key) => [key, payload[key]]));
  update.cashflow = { ...(given as { profit_lock_pct: number; reinvest_pct: number }), since: issuedAt };
  return update;
};

const POLICY_TYPES: Partial<Record<DecisionType, PolicyType>> = {
  MODE_CHANGE: { fields: ["mode", "duration_minutes", "duration_s", "from", "until"], translate: modeChange },
  FREEZE: {
    fields: ["duration_minutes", "severity", "duration_s"],
    translate: (payload, issuedAt, violations) => freeze(payload, issuedAt, durationMs(payload, violations)),
  },
  CAPITAL_PROFILE: {
    fields: ["profile", "max_risk_per_trade_pct", "max_daily_risk_pct", "max_positions", "max_notional_usd", "max_leverage", "thresholds"],
    translate: capitalProfile,
  },
  RISK_ADJUSTMENT: {
    fields: ["max_leverage", "max_position_size_usd", "max_drawdown_pct", "max_exposure_pct", "stop_loss_multiplier", "max_notional_usd", "thresholds"],
    translate: riskAdjustment,
  },
  ESS_POLICY: { fields: ["caution_threshold_pct", "warning_threshold_pct", "critical_threshold_pct", "enforcement", "thresholds"], translate: essPolicy },
  STRATEGY_ALLOCATION: { fields: ["model_weights"], translate: sameName },
  SYMBOL_UNIVERSE: { fields: ["active_symbols"], translate: sameName },
  CASHFLOW: { fields: ["profit_lock_pct", "reinvest_pct", "reserve_buffer_pct", "max_notional_usd"], translate: cashflow },
};

/**
 * Model names of a STRATEGY_ALLOCATION that no target allows: a misspelt name
 * would otherwise switch nothing off while looking as if it did. Checked by
 * the hub, before the weights are folded into a desired policy, since the
 * nodes adopt that policy whatever they make of the decision.
 */
function modelsNoTargetAllows(payload: Payload, targets: TargetModels): string[] {
  const weights = payload.model_weights;
  if (typeof weights !== "object" || weights === null || Array.isArray(weights)) return [];
  return Object.keys(weights)
    .filter((model) => !targets.allowed.has(model))
    .map((model) => `model_weights.${model}: not in the allow tables (ALLOWED_MODELS_*) of ${targets.of}`);
}

/**
 * The effect of a decision, validated whole against the kernel's policy
 * rules. `issuedAt` anchors durations and the cashflow model's start, so
 * every node computes the same whenever the decision reaches it. `targets`:
 * given by the hub when it knows the models the decision's targets allow.
 */
export function decisionEffect(type: DecisionType, payload: Payload, issuedAt: number, targets?: TargetModels): DecisionEffect {
  const violations: string[] = [];
  if ("reason" in payload && (typeof payload.reason !== "string" || payload.reason.length > MAX_REASON_LENGTH)) {
    violations.push(`reason: must be text of at most ${MAX_REASON_LENGTH} characters`);
  }
  const policyType = POLICY_TYPES[type];
  if (!policyType) {
    violations.push(...recordPayloadProblems(type, payload));
    return violations.length ? { kind: "invalid", violations } : { kind: "record" };
  }

  const { fields } = policyType;
  const given = Object.keys(payload).filter((k) => k !== "reason");
  for (const key of given) if (!fields.includes(key)) violations.push(`${key}: not a field of ${type} (${fields.join(", ")})`);
  if (given.length === 0 && type !== "FREEZE") violations.push(`payload: ${type} needs at least one of ${fields.join(", ")}`);

  const update = policyType.translate(payload, issuedAt, violations);
  if (targets && type === "STRATEGY_ALLOCATION") violations.push(...modelsNoTargetAllows(payload, targets));
  const checked = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!checked.ok) violations.push(...checked.violations);
  return violations.length ? { kind: "invalid", violations } : { kind: "policy", update };
}
