// The decisions audit trail in SQLite: every signed decision as published,
// whom it was sent to, each node's acknowledgement, and the desired policies
// kept retained (DecisionWrites in ../hub-store.ts says what each method
// promises).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { DecisionMessage, DesiredPolicyMessage } from "../../../protocol/messages.ts";
import type { DecisionOrigin } from "../../decisions/decision-origin.ts";
import type {
  DecisionAck,
  DecisionHistoryEntry,
  DecisionSummary,
  DecisionTarget,
  DecisionTargetState,
  DecisionWrites,
  OutstandingDecisions,
  StoredDecision,
  UnacknowledgedDecision,
} from "../hub-store.ts";
import { ackOf, decisionsWithAcks, historyEntryOf, summaryOf, type AckColumns, type AckRow, type DecisionRow, type HistoryRow, type SummaryColumns } from "../rows/decision-rows.ts";

/** A decision counted, its first pending ids a JSON array. */
interface SummaryRow extends SummaryColumns {
  pending_first: string;
}

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteDecisionTable implements DecisionWrites {
  private readonly insertDecision;
  private readonly selectById;
  private readonly selectAcks;
  private readonly upsertAck;
  private readonly upsertPolicy;

  constructor(private readonly db: SqliteDatabase) {
    this.insertDecision = db.prepare(
      "INSERT INTO decisions (seq, id, type, target, message, targets, issued_at, expires_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.selectById = db.prepare("SELECT seq, id, message, targets, overridden_by, origin FROM decisions WHERE id = ?");
    // The acks of a page of decisions in one query (their ids as a JSON array).
    this.selectAcks = db.prepare(
      `SELECT decision_id, node_id, ok, error, applied_at, received_at, result FROM decision_acks
       WHERE decision_id IN (SELECT value FROM json_each(?)) ORDER BY decision_id, node_id`,
    );
    // A redelivered decision is acknowledged again; the first ack is the one that counts.
    this.upsertAck = db.prepare(
      `INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at, result) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (decision_id, node_id) DO NOTHING`,
    );
    this.upsertPolicy = db.prepare(
      `INSERT INTO desired_policies (target, version, message) VALUES (?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET version = excluded.version, message = excluded.message`,
    );
  }

  async nextSeq(): Promise<number> {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'").get<{ seq: number }>();
    return (row?.seq ?? 0) + 1;
  }

  async add(message: DecisionMessage, targets: readonly string[], origin: DecisionOrigin): Promise<void> {
    this.insertDecision.run(
      message.seq,
      message.id,
      message.type,
      message.target,
      JSON.stringify(message),
      JSON.stringify(targets),
      message.issuedAt,
      message.expiresAt,
      JSON.stringify(origin),
    );
  }

  async get(id: string): Promise<StoredDecision | undefined> {
    const row = this.selectById.get<DecisionRow>(id);
    return row && this.withAcks([row])[0];
  }

  async list(options: { limit: number; beforeSeq?: number; node?: string }): Promise<StoredDecision[]> {
    const rows = this.db
      .prepare(
        `SELECT seq, id, message, targets, overridden_by, origin FROM decisions
         WHERE seq < ? AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(targets) WHERE value = ?))
         ORDER BY seq DESC LIMIT ?`,
      )
      .all<DecisionRow>(options.beforeSeq ?? Number.MAX_SAFE_INTEGER, options.node ?? null, options.node ?? null, options.limit);
    return this.withAcks(rows);
  }

  async summaries(options: { limit: number; beforeSeq?: number; node?: string; types?: readonly string[]; pendingShown: number }): Promise<DecisionSummary[]> {
    // Acks come only from targets (and removal closings, one per target): pending is targets less acks.
    const node = options.node ?? null;
    const types = options.types ? JSON.stringify(options.types) : null;
    const rows = this.db
      .prepare(
        `SELECT d.seq, d.id, d.message, d.overridden_by, d.origin, '[]' AS targets,
           json_array_length(d.targets) AS target_count,
           (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id AND a.ok = 1) AS acked_ok,
           (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id AND a.ok = 0) AS acked_error,
           (SELECT json_group_array(p.value) FROM (
              SELECT t.value FROM json_each(d.targets) t
              WHERE NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = t.value)
              ORDER BY t.value LIMIT ?) p) AS pending_first,
           n.ok AS node_ok, n.error AS node_error, n.applied_at AS node_applied_at, n.received_at AS node_received_at, n.result AS node_result
         FROM decisions d LEFT JOIN decision_acks n ON n.decision_id = d.id AND n.node_id = ?
         WHERE d.seq < ? AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(d.targets) WHERE value = ?))
           AND (? IS NULL OR d.type IN (SELECT value FROM json_each(?)))
         ORDER BY d.seq DESC LIMIT ?`,
      )
      .all<SummaryRow>(options.pendingShown, node, options.beforeSeq ?? Number.MAX_SAFE_INTEGER, node, node, types, types, options.limit);
    return rows.map((row) => summaryOf(row, JSON.parse(row.pending_first), node));
  }

  async targets(decisionId: string, options: { state: DecisionTargetState; limit: number; afterNodeId?: string }): Promise<DecisionTarget[] | undefined> {
    if (!this.selectById.get(decisionId)) return undefined;
    const rows = this.db
      .prepare(
        `SELECT t.value AS node_id, a.ok, a.error, a.applied_at, a.received_at, a.result
         FROM decisions d, json_each(d.targets) t
         LEFT JOIN decision_acks a ON a.decision_id = d.id AND a.node_id = t.value
         WHERE d.id = ? AND t.value > ?
           AND (? = 'all' OR (? = 'pending') = (a.node_id IS NULL))
         ORDER BY t.value LIMIT ?`,
      )
      .all<{ node_id: string } & AckColumns>(decisionId, options.afterNodeId ?? "", options.state, options.state, options.limit);
    return rows.map((row) => ({ nodeId: row.node_id, ack: ackOf(row.node_id, row) }));
  }

  private withAcks(rows: DecisionRow[]): StoredDecision[] {
    return decisionsWithAcks(rows, this.selectAcks.all<AckRow>(JSON.stringify(rows.map((row) => row.id))));
  }

  async addressedTo(targets: readonly string[]): Promise<DecisionHistoryEntry[]> {
    return this.db
      .prepare("SELECT seq, message, origin, overridden_by FROM decisions WHERE target IN (SELECT value FROM json_each(?)) ORDER BY seq")
      .all<HistoryRow>(JSON.stringify(targets))
      .map(historyEntryOf);
  }

  async setOverriddenBy(decisionId: string, overrideId: string): Promise<boolean> {
    return this.db.prepare("UPDATE decisions SET overridden_by = ? WHERE id = ? AND overridden_by IS NULL").run(overrideId, decisionId).changes === 1;
  }

  async pendingFor(nodeId: string, now: number): Promise<DecisionMessage[]> {
    return this.db
      .prepare(
        `SELECT message FROM decisions d
         WHERE expires_at > ? AND EXISTS (SELECT 1 FROM json_each(d.targets) WHERE value = ?)
           AND NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = ?)
         ORDER BY seq`,
      )
      .all<{ message: string }>(now, nodeId, nodeId)
      .map((row) => JSON.parse(row.message) as DecisionMessage);
  }

  async unacknowledged(options: { afterSeq: number; issuedBefore: number; limit: number }): Promise<UnacknowledgedDecision[]> {
    return this.db
      .prepare(
        `SELECT d.seq, d.message,
           (SELECT json_group_array(t.value) FROM (SELECT value FROM json_each(d.targets) ORDER BY value) t
            WHERE NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = t.value)) AS pending
         FROM decisions d WHERE d.seq > ? AND d.issued_at <= ? ORDER BY d.seq LIMIT ?`,
      )
      .all<{ seq: number; message: string; pending: string }>(options.afterSeq, options.issuedBefore, options.limit)
      .map((row) => ({ seq: row.seq, message: JSON.parse(row.message) as DecisionMessage, pending: JSON.parse(row.pending) as string[] }));
  }

  async closePending(nodeId: string, reason: string, at: number): Promise<number> {
    return this.db
      .prepare(
        `INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at)
         SELECT d.id, ?, 0, ?, ?, ? FROM decisions d
         WHERE EXISTS (SELECT 1 FROM json_each(d.targets) WHERE value = ?)
           AND NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = ?)`,
      )
      .run(nodeId, reason, at, at, nodeId, nodeId).changes;
  }

  async addAck(decisionId: string, ack: DecisionAck): Promise<void> {
    this.upsertAck.run(decisionId, ack.nodeId, ack.ok ? 1 : 0, ack.error, ack.appliedAt, ack.receivedAt, ack.result === null ? null : JSON.stringify(ack.result));
  }

  async count(): Promise<number> {
    return this.db.prepare("SELECT count(*) AS n FROM decisions").get<{ n: number }>()!.n;
  }

  async outstanding(now: number, expiredSince: number): Promise<OutstandingDecisions[]> {
    // Acks come only from targets (and removal closings, one per target), so fewer acks than targets
    // means one is outstanding: a count on the acks' key, not a walk of a fleet decision's 10,000 targets.
    return this.db
      .prepare(
        `SELECT type, CASE WHEN json_extract(origin, '$.kind') = 'role' THEN json_extract(origin, '$.role') ELSE 'operator' END AS origin,
                expires_at <= ? AS expired, count(*) AS count, min(issued_at) AS oldest
         FROM decisions d
         WHERE expires_at > ? AND (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id) < json_array_length(d.targets)
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      )
      .all<{ type: string; origin: string; expired: number; count: number; oldest: number }>(now, expiredSince)
      .map((row) => ({ type: row.type, origin: row.origin, expired: row.expired === 1, count: row.count, oldestIssuedAt: row.oldest }));
  }

  async savePolicy(target: string, message: DesiredPolicyMessage): Promise<void> {
    this.upsertPolicy.run(target, message.version, JSON.stringify(message));
  }

  async policies(): Promise<Map<string, DesiredPolicyMessage>> {
    const rows = this.db.prepare("SELECT target, message FROM desired_policies").all<{ target: string; message: string }>();
    return new Map(rows.map((r) => [r.target, JSON.parse(r.message) as DesiredPolicyMessage]));
  }

  async hasPolicy(target: string): Promise<boolean> {
    return this.db.prepare("SELECT 1 FROM desired_policies WHERE target = ?").get(target) !== undefined;
  }

  async deletePolicy(target: string): Promise<void> {
    this.db.prepare("DELETE FROM desired_policies WHERE target = ?").run(target);
  }
}
