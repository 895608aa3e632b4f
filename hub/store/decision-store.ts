// The decisions audit trail: every signed decision as published, whom it was
// sent to, each node's acknowledgement, and the desired policies kept retained.
import type { SqliteDatabase } from "../../lib/sqlite.ts";
import type { DecisionMessage, DesiredPolicyMessage } from "../../protocol/messages.ts";

export interface DecisionAck {
  nodeId: string;
  ok: boolean;
  error: string | null;
  appliedAt: number;
  receivedAt: number;
}

export interface StoredDecision {
  seq: number;
  message: DecisionMessage;
  targets: string[];
}

export class DecisionStore {
  private readonly insertDecision;
  private readonly selectById;
  private readonly upsertAck;
  private readonly upsertPolicy;

  constructor(private readonly db: SqliteDatabase) {
    this.insertDecision = db.prepare(
      "INSERT INTO decisions (seq, id, type, target, message, targets, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.selectById = db.prepare("SELECT seq, message, targets FROM decisions WHERE id = ?");
    // A redelivered decision is acknowledged again; the first ack is the one that counts.
    this.upsertAck = db.prepare(
      `INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (decision_id, node_id) DO NOTHING`,
    );
    this.upsertPolicy = db.prepare(
      `INSERT INTO desired_policies (target, version, message) VALUES (?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET version = excluded.version, message = excluded.message`,
    );
  }

  /** The seq the next decision gets (call inside the transaction that adds it). */
  nextSeq(): number {
    const row = this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'").get<{ seq: number }>();
    return (row?.seq ?? 0) + 1;
  }

  /** Stores a decision under its own seq, which also versions the policies it changes. */
  add(message: DecisionMessage, targets: string[]): number {
    const result = this.insertDecision.run(
      message.seq,
      message.id,
      message.type,
      message.target,
      JSON.stringify(message),
      JSON.stringify(targets),
      message.issuedAt,
      message.expiresAt,
    );
    return Number(result.lastInsertRowid);
  }

  get(id: string): StoredDecision | undefined {
    const row = this.selectById.get<{ seq: number; message: string; targets: string }>(id);
    return row && { seq: row.seq, message: JSON.parse(row.message), targets: JSON.parse(row.targets) };
  }

  /** Newest first; `node` keeps the decisions sent to that node. */
  list(options: { limit: number; beforeSeq?: number; node?: string }): StoredDecision[] {
    const rows = this.db
      .prepare(
        `SELECT seq, message, targets FROM decisions
         WHERE seq < ? AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(targets) WHERE value = ?))
         ORDER BY seq DESC LIMIT ?`,
      )
      .all<{ seq: number; message: string; targets: string }>(
        options.beforeSeq ?? Number.MAX_SAFE_INTEGER,
        options.node ?? null,
        options.node ?? null,
        options.limit,
      );
    return rows.map((row) => ({ seq: row.seq, message: JSON.parse(row.message), targets: JSON.parse(row.targets) }));
  }

  /** Unexpired decisions sent to a node that it has not acknowledged, oldest first. */
  pendingFor(nodeId: string, now: number): DecisionMessage[] {
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

  /**
   * Closes every decision sent to `nodeId` that it has not acknowledged (the
   * node was removed): an ack-like row with ok false, `reason` as its error and
   * `at` as both times. Closed, a decision is no longer pending for the node nor
   * sent again to it. Returns how many were closed.
   */
  closePending(nodeId: string, reason: string, at: number): number {
    return this.db
      .prepare(
        `INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at)
         SELECT d.id, ?, 0, ?, ?, ? FROM decisions d
         WHERE EXISTS (SELECT 1 FROM json_each(d.targets) WHERE value = ?)
           AND NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = ?)`,
      )
      .run(nodeId, reason, at, at, nodeId, nodeId).changes;
  }

  acks(decisionId: string): DecisionAck[] {
    return this.db
      .prepare("SELECT node_id, ok, error, applied_at, received_at FROM decision_acks WHERE decision_id = ? ORDER BY node_id")
      .all<{ node_id: string; ok: number; error: string | null; applied_at: number; received_at: number }>(decisionId)
      .map((r) => ({ nodeId: r.node_id, ok: r.ok === 1, error: r.error, appliedAt: r.applied_at, receivedAt: r.received_at }));
  }

  addAck(decisionId: string, ack: DecisionAck): void {
    this.upsertAck.run(decisionId, ack.nodeId, ack.ok ? 1 : 0, ack.error, ack.appliedAt, ack.receivedAt);
  }

  count(): number {
    return this.db.prepare("SELECT count(*) AS n FROM decisions").get<{ n: number }>()!.n;
  }

  savePolicy(target: string, message: DesiredPolicyMessage): void {
    this.upsertPolicy.run(target, message.version, JSON.stringify(message));
  }

  policies(): Map<string, DesiredPolicyMessage> {
    const rows = this.db.prepare("SELECT target, message FROM desired_policies").all<{ target: string; message: string }>();
    return new Map(rows.map((r) => [r.target, JSON.parse(r.message) as DesiredPolicyMessage]));
  }

  /** Whether a desired policy is kept for `target` (a node id, or "fleet"). */
  hasPolicy(target: string): boolean {
    return this.db.prepare("SELECT 1 FROM desired_policies WHERE target = ?").get(target) !== undefined;
  }

  deletePolicy(target: string): void {
    this.db.prepare("DELETE FROM desired_policies WHERE target = ?").run(target);
  }
}
