// Where each field of a desired policy came from: the decision of the audit
// trail that last set it, folded the way policy-fold.ts folds the policy
// itself (the fleet's decisions, and a node's own from its registration on,
// leaving out what an OVERRIDE reversed). The node view shows it beside the
// policy in force (GET /federation/nodes/:id, `policy_origins`). Pure.
import { DEFAULT_POLICY, type KernelPolicy, type PolicyUpdate } from "../../kernel/policy.ts";
import type { DecisionHistoryEntry } from "../store/hub-store.ts";
import type { DecisionOrigin } from "./decision-origin.ts";
import { applyStep, isOwnStep, policySteps, type FoldResult, type FoldTarget } from "./policy-fold.ts";

/** The decision that last set a policy field. */
export interface FieldOrigin {
  decisionId: string;
  type: string;
  issuedAt: number;
  origin: DecisionOrigin;
  /** Whether it was a fleet decision or one addressed to the node itself. */
  from: "fleet" | "node";
}

export interface PolicyWithOrigins {
  policy: KernelPolicy;
  /** By policy field; a field no decision set (still at its default) has none. */
  origins: Map<string, FieldOrigin>;
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

/** The fields an update names: a decision that sets a field to the value it had (a second LIVE) still set it. */
function fieldsNamed(update: PolicyUpdate): string[] {
  const fields: string[] = [];
  for (const key of Object.keys(update)) {
    if (key === "mode") fields.push(...(update.mode === "FREEZE" ? ["freeze"] : ["mode", "freeze"]));
    else fields.push(FIELD_OF_KEY[key] ?? key);
  }
  return fields;
}

/**
 * The desired policy of `target` ("fleet", or a node id with when it
 * registered) folded from `history` (oldest first, every decision addressed
 * to the fleet or to it), with the decision that last set each field: one
 * that named the field or changed its value.
 */
export function policyWithOrigins(target: FoldTarget, history: readonly DecisionHistoryEntry[]): FoldResult<PolicyWithOrigins> {
  const steps = policySteps(history);
  if (!steps.ok) return steps;
  let policy: KernelPolicy = { ...DEFAULT_POLICY };
  const origins = new Map<string, FieldOrigin>();
  for (const step of steps.value) {
    const fleetWide = step.message.target === "fleet";
    if (!fleetWide && (target.target === "fleet" || !isOwnStep(step, target))) continue;
    const next = applyStep(policy, step);
    if (!next.ok) return next;
    const set = new Set(fieldsNamed(step.update));
    for (const field of new Set([...Object.keys(policy), ...Object.keys(next.value)]) as Set<keyof KernelPolicy>) {
      if (JSON.stringify(policy[field]) !== JSON.stringify(next.value[field])) set.add(field);
    }
    const { message, origin } = step.entry;
    for (const field of set) {
      origins.set(field, { decisionId: message.id, type: message.type, issuedAt: message.issuedAt, origin, from: fleetWide ? "fleet" : "node" });
    }
    policy = next.value;
  }
  return { ok: true, value: { policy, origins } };
}
