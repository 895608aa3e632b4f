// Telling others when a work package finishes (reaches a terminal state),
// inside the transaction that finished it, so what they record commits with
// it or not at all (a RESEARCH_TASK decision's ack, hub/decisions/
// research-packages.ts). What they want done after the commit (a metric,
// the dashboard's stream) is collected and run once it committed.
import type { StoreTransaction } from "../store/hub-store.ts";
import { isTerminal, type TransitionOutcome, type WorkChange, type WorkPackage } from "./work-model.ts";

/** Told of a package that just finished, inside its transaction; returns what to run once committed, or null. */
export type OnWorkFinished = (tx: StoreTransaction, pkg: WorkPackage, at: number) => Promise<(() => void) | null>;

export const NOBODY_TOLD: OnWorkFinished = async () => null;

/** tx.work.transition, telling `onFinished` if the package finished; its after-commit call goes into `afterCommit`. */
export async function transitionTelling(
  tx: StoreTransaction,
  id: string,
  change: WorkChange,
  at: number,
  onFinished: OnWorkFinished,
  afterCommit: Array<() => void>,
): Promise<TransitionOutcome> {
  const outcome = await tx.work.transition(id, change, at);
  if (outcome.ok && isTerminal(outcome.package.state)) {
    const after = await onFinished(tx, outcome.package, at);
    if (after) afterCommit.push(after);
  }
  return outcome;
}

/** Runs what was collected for after the commit; one that throws does not stop the others. */
export function runAfterCommit(afterCommit: Array<() => void>, log: (line: string) => void): void {
  for (const after of afterCommit) {
    try {
      after();
    } catch (error) {
      log(`after a work package finished: ${(error as Error).message}`);
    }
  }
}
