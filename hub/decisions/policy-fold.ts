// Desired policies folded from the audit trail: what an OVERRIDE puts in
// force. Issuing a decision folds it into the policy the one before left
// (decisions.ts); taking one out again cannot be done by undoing it (a later
// decision may have set the same field since), so each policy is folded
// again from DEFAULT_POLICY through every decision that reached its target,
// in issue order, leaving out those an OVERRIDE reversed. Pure.
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy, type PolicyUpdate } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { DecisionMessage } from "../../protocol/messages.ts";
import type { DecisionHistoryEntry } from "../store/hub-store.ts";

/** Whose policy to fold: "fleet", or a node id with when it registered (ms; see foldPolicies). */
export interface FoldTarget {
  target: string;
  since: number;
}

export type FoldResult<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A decision of the trail that still counts, with the update it makes. */
export interface Step {
  entry: DecisionHistoryEntry;
  message: DecisionMessage;
  update: PolicyUpdate;
}

/** The decisions of `history` that change a policy and were not reversed by an OVERRIDE, with their updates, in order. */
export function policySteps(history: readonly DecisionHistoryEntry[]): FoldResult<Step[]> {
  const steps: Step[] = [];
  for (const entry of history) {
    const { message, overriddenBy } = entry;
    if (overriddenBy !== null) continue;
    const effect = decisionEffect(message.type, message.payload, message.issuedAt);
    if (effect.kind === "record") continue;
    // A decision that validated when it was issued and no longer does (a field this hub no longer
    // knows): folding without it would quietly drop its effect, so nothing is folded.
    if (effect.kind === "invalid") return noLongerFolds(message, effect.violations);
    steps.push({ entry, message, update: effect.update });
  }
  return { ok: true, value: steps };
}

/** Whether a step is a node's own (addressed to it, issued since it registered); fleet steps are nobody's own. */
export function isOwnStep(step: Step, { target, since }: FoldTarget): boolean {
  return step.message.target === target && step.message.issuedAt >= since;
}

/**
 * The desired policies of `targets` from `history` (oldest first). The
 * fleet's folds the fleet decisions; a node's folds the fleet decisions and
 * its own issued from `since` on (its registration: decisions to an earlier
 * node of that id went with its removal, as its desired policy did), which
 * is how decisions.ts built them one at a time.
 *
 * Expired decisions count: a decision's expiry bounds its delivery, not its
 * effect, and the desired policy keeps that effect after the message
 * expires. Durations were anchored at each decision's issuedAt, so a freeze
 * folded again ends when it ended the first time.
 *
 * Each decision's effect is worked out once, and a node's fold starts from
 * the fleet's policy just before its first own decision, so many node
 * policies over a long trail cost little more than one.
 */
export function foldPolicies(targets: readonly FoldTarget[], history: readonly DecisionHistoryEntry[]): FoldResult<Map<string, KernelPolicy>> {
  const counted = policySteps(history);
  if (!counted.ok) return counted;
  const steps = counted.value;

  // The fleet's policy before each step, and after the last.
  const fleetBefore: KernelPolicy[] = [{ ...DEFAULT_POLICY }];
  for (const step of steps) {
    const current = fleetBefore.at(-1)!;
    const next = step.message.target === "fleet" ? applyStep(current, step) : { ok: true as const, value: current };
    if (!next.ok) return next;
    fleetBefore.push(next.value);
  }

  const policies = new Map<string, KernelPolicy>();
  for (const { target, since } of targets) {
    const own = (step: Step) => target !== "fleet" && isOwnStep(step, { target, since });
    const first = steps.findIndex(own);
    if (first < 0) {
      policies.set(target, fleetBefore.at(-1)!);
      continue;
    }
    let policy = fleetBefore[first]!;
    for (const step of steps.slice(first)) {
      if (step.message.target !== "fleet" && !own(step)) continue;
      const next = applyStep(policy, step);
      if (!next.ok) return next;
      policy = next.value;
    }
    policies.set(target, policy);
  }
  return { ok: true, value: policies };
}

/** One target's policy (see foldPolicies); `since` only matters for a node. */
export function foldPolicy(target: string, history: readonly DecisionHistoryEntry[], since = 0): FoldResult<KernelPolicy> {
  const folded = foldPolicies([{ target, since }], history);
  return folded.ok ? { ok: true, value: folded.value.get(target)! } : folded;
}

function applyStep(policy: KernelPolicy, step: Step): FoldResult<KernelPolicy> {
  const next = applyPolicyUpdate(policy, step.update);
  return next.ok ? { ok: true, value: next.policy } : noLongerFolds(step.message, next.violations);
}

function noLongerFolds(message: DecisionMessage, violations: string[]): { ok: false; problem: string } {
  return { ok: false, problem: `decision ${message.id} (${message.type}, seq ${message.seq}) no longer folds: ${violations.join("; ")}` };
}
