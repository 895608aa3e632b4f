// OVERRIDE on the hub, inside the transaction that issues it: which decision
// it may reverse, and the desired policies folded again without it. The
// OVERRIDE's seq becomes their version, so agents adopt them as they adopt
// any newer desired policy, and a node that receives the reversed decision
// late (after the new policy) acknowledges it without applying it.
import type { KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { OverridePayload } from "../../protocol/override-and-research.ts";
import { DomainError } from "../errors.ts";
import type { StoredDecision, StoreTransaction } from "../store/hub-store.ts";
import { foldPolicies } from "./policy-fold.ts";

/**
 * Checks that the decision an OVERRIDE names can be reversed, and links the
 * two (`overrideId` is the OVERRIDE's own id). Refused:
 * - no such decision (400);
 * - a decision that changes no policy, an OVERRIDE among them (400): there is
 *   no effect to reverse, and overriding an OVERRIDE would have to mean
 *   "put the first decision back", which is better said by issuing it again,
 *   where the audit trail shows it plainly;
 * - one already overridden (409): reversing twice changes nothing and would
 *   leave two OVERRIDEs claiming the same decision;
 * - another target than the decision's (400): the OVERRIDE goes where the
 *   decision went, so each node that acknowledged one acknowledges the other.
 */
export async function linkOverride(tx: StoreTransaction, target: string, payload: OverridePayload, overrideId: string): Promise<StoredDecision> {
  const id = payload.overridden_decision_id;
  const stored = await tx.decisions.get(id);
  if (!stored) throw new DomainError("invalid", "invalid_decision", `overridden_decision_id: no decision ${id}`);
  const { message } = stored;
  if (decisionEffect(message.type, message.payload, message.issuedAt).kind === "record") {
    throw new DomainError("invalid", "invalid_decision", `overridden_decision_id: ${id} is a ${message.type}, which changes no policy: there is nothing to reverse`);
  }
  if (stored.overriddenBy !== null) {
    throw new DomainError("conflict", "already_overridden", `overridden_decision_id: ${id} was already overridden by ${stored.overriddenBy}`);
  }
  if (message.target !== target) {
    throw new DomainError("invalid", "invalid_decision", `target: an OVERRIDE goes where the decision it reverses went (${message.target}), not ${target}`);
  }
  await tx.decisions.setOverriddenBy(id, overrideId);
  return stored;
}

/**
 * The desired policies of `targets` ("fleet" and node ids that have one)
 * folded again from the audit trail, without every decision an OVERRIDE
 * reversed (the one just linked included). Throws when a decision of the
 * trail no longer folds: reversing one decision must not drop another.
 */
export async function refoldPolicies(tx: StoreTransaction, targets: readonly string[]): Promise<Map<string, KernelPolicy>> {
  const history = await tx.decisions.addressedTo(["fleet", ...targets.filter((target) => target !== "fleet")]);
  const foldTargets = [];
  for (const target of targets) foldTargets.push({ target, since: target === "fleet" ? 0 : ((await tx.nodes.get(target))?.registeredAt ?? 0) });
  const folded = foldPolicies(foldTargets, history);
  if (!folded.ok) throw new DomainError("conflict", "cannot_refold", folded.problem);
  return folded.value;
}
