// A decision's rows (decisions, decision_acks: the same columns in SQLite and
// PostgreSQL) and what the registry makes of them, for both backends
// (hub/store/sqlite/decision-table.ts, hub/store/postgres/decision-table.ts).
// The one difference: an ack's `ok` is 0/1 in SQLite and a boolean in PostgreSQL.
import type { DecisionMessage } from "../../../protocol/messages.ts";
import type { DecisionOrigin } from "../../decisions/decision-origin.ts";
import type { DecisionAck, DecisionHistoryEntry, DecisionSummary, StoredDecision } from "../hub-store.ts";

export interface DecisionRow {
  seq: number;
  id: string;
  message: string;
  targets: string;
  overridden_by: string | null;
  origin: string;
}

/** An ack's columns; all null while the node has none (a LEFT JOIN's miss). `ok` is SQLite's 0/1 or PostgreSQL's boolean. */
export interface AckColumns {
  ok: boolean | number | null;
  error: string | null;
  applied_at: number | null;
  received_at: number | null;
  result: string | null;
}

export interface AckRow extends AckColumns {
  decision_id: string;
  node_id: string;
}

/** A decision counted (DecisionSummary): its row, the counts and, with a node, that node's ack columns (the first pending ids each backend reads its own way). */
export interface SummaryColumns extends DecisionRow {
  target_count: number;
  acked_ok: number;
  acked_error: number;
  node_ok: boolean | number | null;
  node_error: string | null;
  node_applied_at: number | null;
  node_received_at: number | null;
  node_result: string | null;
}

export function ackOf(nodeId: string, row: AckColumns): DecisionAck | null {
  if (row.ok === null) return null;
  const ok = row.ok === true || row.ok === 1;
  return { nodeId, ok, error: row.error, appliedAt: row.applied_at!, receivedAt: row.received_at!, result: row.result === null ? null : JSON.parse(row.result) };
}

/** The decisions of `rows` each with its acks, taken from `ackRows` (the acks of those decisions, in the order to list them). */
export function decisionsWithAcks(rows: DecisionRow[], ackRows: Iterable<AckRow>): StoredDecision[] {
  const acks = new Map<string, DecisionAck[]>(rows.map((row) => [row.id, []]));
  for (const r of ackRows) acks.get(r.decision_id)!.push(ackOf(r.node_id, r)!);
  return rows.map((row) => ({
    seq: row.seq,
    message: JSON.parse(row.message),
    origin: JSON.parse(row.origin) as DecisionOrigin,
    targets: JSON.parse(row.targets),
    acks: acks.get(row.id)!,
    overriddenBy: row.overridden_by,
  }));
}

/** The summary of a counted decision; with `node`, that node's ack (null while it has none). */
export function summaryOf(row: SummaryColumns, pendingFirst: string[], node: string | null): DecisionSummary {
  const summary: DecisionSummary = {
    seq: row.seq,
    message: JSON.parse(row.message),
    origin: JSON.parse(row.origin) as DecisionOrigin,
    overriddenBy: row.overridden_by,
    targetCount: row.target_count,
    ackedOk: row.acked_ok,
    ackedError: row.acked_error,
    pendingCount: row.target_count - row.acked_ok - row.acked_error,
    pendingFirst,
  };
  if (node !== null) {
    summary.nodeAck = ackOf(node, { ok: row.node_ok, error: row.node_error, applied_at: row.node_applied_at, received_at: row.node_received_at, result: row.node_result });
  }
  return summary;
}

export interface HistoryRow {
  seq: number;
  message: string;
  origin: string;
  overridden_by: string | null;
}

export function historyEntryOf(row: HistoryRow): DecisionHistoryEntry {
  return { seq: row.seq, message: JSON.parse(row.message) as DecisionMessage, origin: JSON.parse(row.origin) as DecisionOrigin, overriddenBy: row.overridden_by };
}
