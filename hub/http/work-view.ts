// How work packages look in the HTTP API (snake_case like the rest): the
// package, and in the detail its attempts and history.
import type { WorkAttempt, WorkEvent, WorkPackage } from "../work/work-model.ts";

export function workView(pkg: WorkPackage): object {
  return {
    id: pkg.id,
    seq: pkg.seq,
    kind: pkg.kind,
    state: pkg.state,
    target: pkg.target,
    group: pkg.group,
    node: pkg.node,
    attempt: pkg.attempt,
    max_attempts: pkg.maxAttempts,
    strategy: pkg.strategy,
    requires: pkg.requires,
    payload: pkg.payload,
    progress: pkg.progress,
    result: pkg.result,
    error: pkg.error,
    lease_expires_at: pkg.leaseExpiresAt,
    lease_s: pkg.leaseMs / 1000,
    deadline_at: pkg.deadlineAt,
    idempotency_key: pkg.idempotencyKey,
    created_at: pkg.createdAt,
    updated_at: pkg.updatedAt,
  };
}

export function workDetailView(pkg: WorkPackage, attempts: WorkAttempt[], events: WorkEvent[]): object {
  return {
    ...workView(pkg),
    attempts: attempts.map((a) => ({ attempt: a.attempt, node: a.node, leased_at: a.leasedAt, ended_at: a.endedAt, outcome: a.outcome, error: a.error })),
    events: events.map((e) => ({ at: e.at, from: e.from, to: e.to, attempt: e.attempt, node: e.node, cause: e.cause })),
  };
}
