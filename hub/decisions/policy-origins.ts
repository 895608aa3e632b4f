// Where each field of a desired policy came from: the decision of the audit
// trail that last set it, folded the way policy-fold.ts folds the policy
// itself (the fleet's decisions, and a node's own from its registration on,
// leaving out what an OVERRIDE reversed). The node view shows it beside the
// policy in force (GET /federation/nodes/:id, `policy_origins`). Pure.
import type { PolicyUpdate } from "../../kernel/policy.ts";
import type { DecisionHistoryEntry } from "../store/hub-store.ts";
import type { DecisionOrigin } from "./decision-origin.ts";
import { isOwnStep, policySteps, type FoldResult, type FoldTarget } from "./policy-fold.ts";

/** The decision that last set a policy field. */
export interface FieldOrigin {
  decisionId: string;
  type: string;
  issuedAt: number;
  origin: DecisionOrigin;
  /** Whether it was a fleet decision or one addressed to the node itself. */
  from: "fleet" | "node";
}

/**
 * Update keys that set a policy field of another name. Any other key sets
 * the field of its own name; `mode: "FREEZE"` sets `freeze`, every other
 * mode sets `mode` and ends a freeze (kernel/policy.ts).
 */
const FIELD_OF_KEY: Record<string, string> = {
  freeze_until: "freeze",
  freeze_severity: "freeze",
  freeze_reason: "freeze",
  mode_window: "windows",
  windows_end_at: "windows",
};

/** The fields an update names, and so sets (a decision that sets a field to the value it had, a second LIVE, still set it). */
function fieldsNamed(update: PolicyUpdate): string[] {
  const fields: string[] = [];
  for (const key of Object.keys(update)) {
    if (key === "mode") fields.push(...(update.mode === "FREEZE" ? ["freeze"] : ["mode", "freeze"]));
    else fields.push(FIELD_OF_KEY[key] ?? key);
  }
  return fields;
}

/**
 * Which decision last set each field of the desired policy of `target`
 * ("fleet", or a node id with when it registered), from `history` (oldest
 * first, every decision addressed to the fleet or to it): the last that
 * named the field. A policy update changes only the fields it names
 * (kernel/policy.ts), so that is the one that set its value.
 */
export function policyOrigins(target: FoldTarget, history: readonly DecisionHistoryEntry[]): FoldResult<Map<string, FieldOrigin>> {
  const steps = policySteps(history);
  if (!steps.ok) return steps;
  const origins = new Map<string, FieldOrigin>();
  for (const step of steps.value) {
    const fleetWide = step.message.target === "fleet";
    if (!fleetWide && (target.target === "fleet" || !isOwnStep(step, target))) continue;
    const { message, origin } = step.entry;
    for (const field of fieldsNamed(step.update)) {
      origins.set(field, { decisionId: message.id, type: message.type, issuedAt: message.issuedAt, origin, from: fleetWide ? "fleet" : "node" });
    }
  }
  return { ok: true, value: origins };
}
