// A desired policy folded from the audit trail: what an OVERRIDE puts in
// force. Issuing a decision folds it into the policy the one before left
// (decisions.ts); taking one out again cannot be done by undoing it (a later
// decision may have set the same field since), so the policy is folded again
// from DEFAULT_POLICY through every decision that reached the target, in
// issue order, leaving out those an OVERRIDE reversed. Pure.
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { DecisionHistoryEntry } from "../store/hub-store.ts";

export type FoldResult = { ok: true; policy: KernelPolicy } | { ok: false; problem: string };

/**
 * The desired policy of `target` ("fleet" or a node id) from `history`
 * (oldest first). The fleet's folds the fleet decisions; a node's folds the
 * fleet decisions and its own issued from `nodeSince` on (its registration:
 * decisions to an earlier node of that id went with its removal, as its
 * desired policy did), which is how decisions.ts built it one at a time.
 *
 * Expired decisions count: a decision's expiry bounds its delivery, not its
 * effect, and the desired policy keeps that effect after the message
 * expires. Durations were anchored at each decision's issuedAt, so a freeze
 * folded again ends when it ended the first time.
 */
export function foldPolicy(target: string, history: readonly DecisionHistoryEntry[], nodeSince = 0): FoldResult {
  let policy: KernelPolicy = { ...DEFAULT_POLICY };
  for (const { message, overriddenBy } of history) {
    if (overriddenBy !== null) continue;
    const reaches = message.target === "fleet" || (message.target === target && message.issuedAt >= nodeSince);
    if (!reaches) continue;
    const effect = decisionEffect(message.type, message.payload, message.issuedAt);
    if (effect.kind === "record") continue;
    // A decision that validated when it was issued and no longer does (a field this hub no longer
    // knows): folding without it would quietly drop its effect, so nothing is folded.
    const next = effect.kind === "policy" ? applyPolicyUpdate(policy, effect.update) : { ok: false as const, violations: effect.violations };
    if (!next.ok) return { ok: false, problem: `decision ${message.id} (${message.type}, seq ${message.seq}) no longer folds: ${next.violations.join("; ")}` };
    policy = next.policy;
  }
  return { ok: true, policy };
}
