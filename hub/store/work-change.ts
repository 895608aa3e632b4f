// What a work package becomes under a change the state machine allowed, and
// what that makes of its attempt: the part of WorkWrites.transition that is
// the same in every backend (hub/store/sqlite/work-table.ts,
// hub/store/postgres/work-table.ts), which only read and write the rows.
import type { AttemptOutcome, WorkChange, WorkPackage, WorkState } from "../work/work-model.ts";

/** What a change ending an attempt makes of it. */
export const OUTCOME_OF: Partial<Record<WorkState, AttemptOutcome>> = {
  succeeded: "succeeded",
  failed: "failed",
  queued: "lease_expired",
  expired: "expired",
  cancelled: "cancelled",
};

/** The package after `change`, which the state machine allowed. */
export function appliedChange(current: WorkPackage, change: WorkChange): WorkPackage {
  const released = { ...current, leaseExpiresAt: null };
  switch (change.to) {
    case "leased":
      return { ...current, state: "leased", node: change.node, attempt: current.attempt + 1, leaseExpiresAt: change.leaseExpiresAt, progress: null };
    case "running":
      return { ...current, state: "running", progress: change.progress, leaseExpiresAt: change.leaseExpiresAt };
    case "succeeded":
      return { ...released, state: "succeeded", progress: 100, result: change.result };
    case "failed":
      return { ...released, state: "failed", error: change.error };
    case "queued":
      if (current.attempt >= current.maxAttempts) {
        return { ...released, state: "failed", error: `${change.cause} on attempt ${current.attempt}, the last of ${current.maxAttempts}` };
      }
      return { ...released, state: "queued", progress: null };
    case "expired":
      return { ...released, state: "expired", error: change.cause };
    case "cancelled":
      return { ...released, state: "cancelled", error: change.cause };
  }
}
