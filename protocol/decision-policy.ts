// What each decision type does to a node's kernel policy. Hub and agent both
// use this: the hub to validate a decision before signing it and to keep the
// desired policy, the agent to apply it. RESEARCH_TASK and OVERRIDE change no
// policy; they are recorded and acknowledged (their payloads:
// override-and-research.ts).
import { applyPolicyUpdate, DEFAULT_POLICY, type ModeWindow, type PolicyUpdate } from "../kernel/policy.ts";
import type { DecisionType } from "./messages.ts";
import { recordPayloadProblems } from "./override-and-research.ts";

export type DecisionEffect =
  | { kind: "policy"; update: PolicyUpdate }
  | { kind: "record" }
  | { kind: "invalid"; violations: string[] };

/** The payload fields each policy-changing type accepts; `reason` (free text for the audit trail) is accepted by all. */
const POLICY_FIELDS: Partial<Record<DecisionType, readonly string[]>> = {
  MODE_CHANGE: ["mode", "duration_s", "duration_minutes", "from", "until"], // duration_minutes: see freezeUntil
  FREEZE: ["duration_s"],
  RISK_ADJUSTMENT: ["max_leverage", "max_notional_usd", "thresholds"],
  ESS_POLICY: ["enforcement", "thresholds"],
  CAPITAL_PROFILE: ["max_notional_usd", "max_leverage", "thresholds"],
  CASHFLOW: ["max_notional_usd"],
  SYMBOL_UNIVERSE: ["active_symbols"],
  STRATEGY_ALLOCATION: ["model_weights"],
};

const MAX_REASON_LENGTH = 512;

function freezeUntil(payload: Record<string, unknown>, issuedAt: number, violations: string[]): number | undefined {
  // Bridge (h11-hub): POST /api/federation/mode sends the contract's duration_minutes (0: indefinite);
  // h11-kernel's MODE_CHANGE revert replaces this on merge.
  if ("duration_minutes" in payload) {
    const minutes = payload.duration_minutes;
    if (typeof minutes !== "number" || !Number.isFinite(minutes) || minutes < 0) {
      violations.push("duration_minutes: must be a number of minutes, 0 or absent for an indefinite freeze");
      return undefined;
    }
    return minutes === 0 ? undefined : issuedAt + Math.round(minutes * 60_000);
  }
  if (!("duration_s" in payload)) return undefined; // indefinite
  const duration = payload.duration_s;
  if (typeof duration !== "number" || !Number.isFinite(duration) || duration <= 0) {
    violations.push("duration_s: must be a positive number of seconds, or absent for an indefinite freeze");
    return undefined;
  }
  return issuedAt + Math.round(duration * 1000);
}

/**
 * The effect of a decision, validated whole against the kernel's policy
 * rules. `issuedAt` anchors durations, so every node computes the same
 * freeze end whenever the decision reaches it.
 */
export function decisionEffect(type: DecisionType, payload: Record<string, unknown>, issuedAt: number): DecisionEffect {
  const violations: string[] = [];
  if ("reason" in payload && (typeof payload.reason !== "string" || payload.reason.length > MAX_REASON_LENGTH)) {
    violations.push(`reason: must be text of at most ${MAX_REASON_LENGTH} characters`);
  }
  const fields = POLICY_FIELDS[type];
  if (!fields) {
    violations.push(...recordPayloadProblems(type, payload));
    return violations.length ? { kind: "invalid", violations } : { kind: "record" };
  }

  const given = Object.keys(payload).filter((k) => k !== "reason");
  for (const key of given) if (!fields.includes(key)) violations.push(`${key}: not a field of ${type} (${fields.join(", ")})`);
  if (given.length === 0 && type !== "FREEZE") violations.push(`payload: ${type} needs at least one of ${fields.join(", ")}`);

  const update: PolicyUpdate = {};
  const windowed = type === "MODE_CHANGE" && ("from" in payload || "until" in payload);
  for (const key of given) if (!["duration_s", "duration_minutes", "from", "until"].includes(key) && fields.includes(key)) Object.assign(update, { [key]: payload[key] });
  if (windowed) {
    // A time window: that mode from `from` until `until` (ms since the epoch), the base mode untouched.
    delete update.mode;
    update.mode_window = { mode: payload.mode as ModeWindow["mode"], from: payload.from as number, until: payload.until as number };
    if (!("from" in payload && "until" in payload)) violations.push("from, until: a mode window needs both");
  }
  if (type === "FREEZE" || (type === "MODE_CHANGE" && payload.mode === "FREEZE" && !windowed)) {
    update.mode = "FREEZE";
    const until = freezeUntil(payload, issuedAt, violations);
    if (until !== undefined) update.freeze_until = until;
  } else {
    for (const key of ["duration_s", "duration_minutes"]) if (key in payload) violations.push(`${key}: only valid with mode FREEZE`);
  }
  if (type === "MODE_CHANGE" && !("mode" in payload)) violations.push("mode: required");

  const checked = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!checked.ok) violations.push(...checked.violations);
  return violations.length ? { kind: "invalid", violations } : { kind: "policy", update };
}
