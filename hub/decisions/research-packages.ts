// RESEARCH_TASK decisions as work packages (issue 15). The decision is
// signed and kept in the audit trail as every decision is; a target node
// that takes research as work (it advertises `research` and runs work
// packages: work slots in its birth) gets a package of kind `research`
// instead of the decision on its cmd topic, stored in the same transaction
// as the decision, with the decision's payload, pinned to that node, expiring
// with the decision. The packages of one decision share a group; the first
// holds the decision's id as its idempotency key, which links them back.
// When a package finishes, its outcome becomes that node's ack of the
// decision (ok and the result, or the error), in the transaction that
// finished it. Every other target gets the decision as before: an agent
// from before work packages runs it through its research handlers, one
// without the capability refuses it saying why.
import type { DecisionMessage } from "../../protocol/messages.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import type { DecisionAck, StoredDecision, StoreTransaction, WorkReads } from "../store/hub-store.ts";
import type { WorkPackage } from "../work/work-model.ts";
import { newWorkPackageId } from "../work/work-packages.ts";
import { WORK_DEFAULTS } from "../work/work-request.ts";

export const RESEARCH_KIND = "research";
const RESEARCH_CAPABILITY = "research";

/** Whether `node` gets research tasks as work packages rather than as decisions. */
export function takesResearchAsWork(node: NodeRecord | undefined): boolean {
  return node !== undefined && node.capabilities.includes(RESEARCH_CAPABILITY) && (node.live.workSlots ?? 0) > 0;
}

/** Inside the transaction that stores `decision`: one package per node of `nodes` (those that take research as work). */
export async function addResearchPackages(tx: StoreTransaction, decision: DecisionMessage, nodes: readonly string[]): Promise<WorkPackage[]> {
  const ids = nodes.map(() => newWorkPackageId());
  const packages: WorkPackage[] = [];
  for (const [i, node] of nodes.entries()) {
    packages.push(
      await tx.work.add({
        id: ids[i]!,
        kind: RESEARCH_KIND,
        payload: decision.payload,
        requires: [RESEARCH_CAPABILITY],
        target: node,
        strategy: "least_loaded",
        group: nodes.length > 1 ? ids[0]! : null,
        deadlineAt: decision.expiresAt,
        leaseMs: WORK_DEFAULTS.leaseS * 1000,
        maxAttempts: WORK_DEFAULTS.maxAttempts,
        idempotencyKey: i === 0 ? decision.id : null,
        createdAt: decision.issuedAt,
      }),
    );
  }
  return packages;
}

/** The id of the decision a research package runs for, or null (another kind, or a package an operator submitted). */
async function decisionIdOf(work: WorkReads, pkg: WorkPackage): Promise<string | null> {
  if (pkg.kind !== RESEARCH_KIND) return null;
  const key = pkg.group === null || pkg.group === pkg.id ? pkg.idempotencyKey : ((await work.get(pkg.group))?.idempotencyKey ?? null);
  return key?.startsWith("dec_") ? key : null;
}

/** The decision a finished package closes the ack of for its node, or undefined. */
export async function decisionToAcknowledge(tx: StoreTransaction, pkg: WorkPackage): Promise<StoredDecision | undefined> {
  const decisionId = await decisionIdOf(tx.work, pkg);
  const stored = decisionId === null ? undefined : await tx.decisions.get(decisionId);
  if (!stored || stored.message.type !== "RESEARCH_TASK" || !stored.targets.includes(pkg.target)) return undefined;
  return stored.acks.some((ack) => ack.nodeId === pkg.target) ? undefined : stored;
}

/** The ack a finished package makes for its node: ok with the result, or the error (a failure's, or how it ended). */
export function ackOfPackage(pkg: WorkPackage, at: number): DecisionAck {
  const ok = pkg.state === "succeeded";
  const error = ok ? null : pkg.state === "failed" ? (pkg.error ?? "failed") : `work package ${pkg.id} ${pkg.state}: ${pkg.error ?? ""}`.trim();
  return { nodeId: pkg.target, ok, error, appliedAt: at, receivedAt: at, result: ok ? pkg.result : null };
}

/** Whether `nodeId` got decision `decisionId` as a work package (so it is not sent the decision again). */
export async function hasResearchPackage(work: WorkReads, decisionId: string, nodeId: string): Promise<boolean> {
  const first = await work.byIdempotencyKey(decisionId);
  if (!first) return false;
  const packages = first.group === null ? [first] : await work.group(first.group);
  return packages.some((pkg) => pkg.target === nodeId);
}
