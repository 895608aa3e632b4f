// A work package's row (work_packages: the same columns in SQLite and
// PostgreSQL) and the package it holds, for both backends
// (hub/store/sqlite/work-table.ts, hub/store/postgres/work-table.ts).
import type { WorkPackage, WorkState } from "../../work/work-model.ts";

export interface PackageRow {
  seq: number;
  id: string;
  kind: string;
  payload: string;
  requires: string;
  target: string;
  strategy: string;
  group_id: string | null;
  deadline_at: number | null;
  lease_ms: number;
  max_attempts: number;
  idempotency_key: string | null;
  created_at: number;
  state: string;
  node_id: string | null;
  attempt: number;
  lease_expires_at: number | null;
  progress: number | null;
  result: string | null;
  error: string | null;
  updated_at: number;
}

export function packageOf(row: PackageRow): WorkPackage {
  return {
    seq: row.seq,
    id: row.id,
    kind: row.kind,
    payload: JSON.parse(row.payload),
    requires: JSON.parse(row.requires),
    target: row.target,
    strategy: row.strategy as WorkPackage["strategy"],
    group: row.group_id,
    deadlineAt: row.deadline_at,
    leaseMs: row.lease_ms,
    maxAttempts: row.max_attempts,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    state: row.state as WorkState,
    node: row.node_id,
    attempt: row.attempt,
    leaseExpiresAt: row.lease_expires_at,
    progress: row.progress,
    result: row.result === null ? null : JSON.parse(row.result),
    error: row.error,
    updatedAt: row.updated_at,
  };
}
