// The decisions audit trail in PostgreSQL: every signed decision as published,
// whom it was sent to, each node's acknowledgement, and the desired policies
// kept retained (DecisionWrites in ../hub-store.ts says what each method
// promises; the SQLite twin is ../sqlite/decision-table.ts). JSON columns are
// TEXT (the bytes as published) and are read as jsonb where a query looks in.
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
import type { Db } from "./connection.ts";

/**
 * The advisory lock nextSeq holds to the end of its transaction: hubs sharing
 * the database issue decisions one at a time, each seeing the last one's seq
 * (no gaps, no two decisions with one seq; a sequence would leave gaps on
 * every rollback and give a second call in one transaction another number).
 */
const DECISION_SEQ_LOCK = 0x6564676566656401n;

/** A decision counted, its first pending ids an array. */
interface SummaryRow extends SummaryColumns {
  pending_first: string[];
}

export class PostgresDecisionTable implements DecisionWrites {
  constructor(private readonly db: Db) {}

  /** Whether decision `d`'s targets include the node. */
  private sentTo(nodeId: string) {
    return this.db`d.targets::jsonb @> jsonb_build_array(${nodeId}::text)`;
  }

  async nextSeq(): Promise<number> {
    await this.db`SELECT pg_advisory_xact_lock(${DECISION_SEQ_LOCK.toString()}::bigint)`;
    const [row] = await this.db<{ seq: number }[]>`SELECT coalesce(max(seq), 0) AS seq FROM decisions`;
    return row!.seq + 1;
  }

  async add(message: DecisionMessage, targets: readonly string[], origin: DecisionOrigin): Promise<void> {
    await this.db`
      INSERT INTO decisions (seq, id, type, target, message, targets, issued_at, expires_at, origin)
      VALUES (${message.seq}, ${message.id}, ${message.type}, ${message.target}, ${JSON.stringify(message)}, ${JSON.stringify(targets)},
              ${message.issuedAt}, ${message.expiresAt}, ${JSON.stringify(origin)})`;
  }

  async get(id: string): Promise<StoredDecision | undefined> {
    const rows = await this.db<DecisionRow[]>`SELECT seq, id, message, targets, overridden_by, origin FROM decisions WHERE id = ${id}`;
    return (await this.withAcks(rows))[0];
  }

  async list(options: { limit: number; beforeSeq?: number; node?: string }): Promise<StoredDecision[]> {
    const rows = await this.db<DecisionRow[]>`
      SELECT seq, id, message, targets, overridden_by, origin FROM decisions d
      WHERE seq < ${options.beforeSeq ?? Number.MAX_SAFE_INTEGER} ${options.node === undefined ? this.db`` : this.db`AND ${this.sentTo(options.node)}`}
      ORDER BY seq DESC LIMIT ${options.limit}`;
    return this.withAcks(rows);
  }

  async summaries(options: { limit: number; beforeSeq?: number; node?: string; types?: readonly string[]; pendingShown: number }): Promise<DecisionSummary[]> {
    // Acks come only from targets (and removal closings, one per target): pending is targets less acks.
    const node = options.node ?? null;
    const rows = await this.db<SummaryRow[]>`
      SELECT d.seq, d.id, d.message, d.overridden_by, d.origin,
        jsonb_array_length(d.targets::jsonb) AS target_count,
        (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id AND a.ok) AS acked_ok,
        (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id AND NOT a.ok) AS acked_error,
        ARRAY(SELECT t.target FROM jsonb_array_elements_text(d.targets::jsonb) AS t(target)
              WHERE NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = t.target)
              ORDER BY t.target COLLATE "C" LIMIT ${options.pendingShown}) AS pending_first,
        n.ok AS node_ok, n.error AS node_error, n.applied_at AS node_applied_at, n.received_at AS node_received_at, n.result AS node_result
      FROM decisions d LEFT JOIN decision_acks n ON n.decision_id = d.id AND n.node_id = ${node}::text
      WHERE d.seq < ${options.beforeSeq ?? Number.MAX_SAFE_INTEGER}
        ${node === null ? this.db`` : this.db`AND ${this.sentTo(node)}`}
        ${options.types === undefined ? this.db`` : this.db`AND d.type = ANY(${[...options.types]}::text[])`}
      ORDER BY d.seq DESC LIMIT ${options.limit}`;
    return rows.map((row) => summaryOf(row, row.pending_first, node));
  }

  async targets(decisionId: string, options: { state: DecisionTargetState; limit: number; afterNodeId?: string }): Promise<DecisionTarget[] | undefined> {
    if ((await this.db`SELECT 1 FROM decisions WHERE id = ${decisionId}`).length === 0) return undefined;
    const inState = { all: this.db``, pending: this.db`AND a.node_id IS NULL`, acked: this.db`AND a.node_id IS NOT NULL` }[options.state];
    const rows = await this.db<({ node_id: string } & AckColumns)[]>`
      SELECT t.target AS node_id, a.ok, a.error, a.applied_at, a.received_at, a.result
      FROM decisions d CROSS JOIN LATERAL jsonb_array_elements_text(d.targets::jsonb) AS t(target)
      LEFT JOIN decision_acks a ON a.decision_id = d.id AND a.node_id = t.target
      WHERE d.id = ${decisionId} AND t.target COLLATE "C" > ${options.afterNodeId ?? ""} ${inState}
      ORDER BY t.target COLLATE "C" LIMIT ${options.limit}`;
    return rows.map((row) => ({ nodeId: row.node_id, ack: ackOf(row.node_id, row) }));
  }

  private async withAcks(rows: DecisionRow[]): Promise<StoredDecision[]> {
    if (rows.length === 0) return [];
    const ackRows = await this.db<AckRow[]>`
      SELECT decision_id, node_id, ok, error, applied_at, received_at, result FROM decision_acks
      WHERE decision_id = ANY(${rows.map((row) => row.id)}::text[]) ORDER BY decision_id, node_id COLLATE "C"`;
    return decisionsWithAcks(rows, ackRows);
  }

  async addressedTo(targets: readonly string[]): Promise<DecisionHistoryEntry[]> {
    const rows = await this.db<HistoryRow[]>`
      SELECT seq, message, origin, overridden_by FROM decisions WHERE target = ANY(${[...targets]}::text[]) ORDER BY seq`;
    return rows.map(historyEntryOf);
  }

  async setOverriddenBy(decisionId: string, overrideId: string): Promise<boolean> {
    return (await this.db`UPDATE decisions SET overridden_by = ${overrideId} WHERE id = ${decisionId} AND overridden_by IS NULL`).count === 1;
  }

  async pendingFor(nodeId: string, now: number): Promise<DecisionMessage[]> {
    const rows = await this.db<{ message: string }[]>`
      SELECT message FROM decisions d
      WHERE expires_at > ${now} AND ${this.sentTo(nodeId)}
        AND NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = ${nodeId})
      ORDER BY seq`;
    return rows.map((row) => JSON.parse(row.message) as DecisionMessage);
  }

  async unacknowledged(options: { afterSeq: number; issuedBefore: number; limit: number }): Promise<UnacknowledgedDecision[]> {
    const rows = await this.db<{ seq: number; message: string; pending: string[] | null }[]>`
      SELECT d.seq, d.message,
        (SELECT array_agg(t.target ORDER BY t.target COLLATE "C") FROM jsonb_array_elements_text(d.targets::jsonb) AS t(target)
         WHERE NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = t.target)) AS pending
      FROM decisions d WHERE d.seq > ${options.afterSeq} AND d.issued_at <= ${options.issuedBefore} ORDER BY d.seq LIMIT ${options.limit}`;
    return rows.map((row) => ({ seq: row.seq, message: JSON.parse(row.message) as DecisionMessage, pending: row.pending ?? [] }));
  }

  async closePending(nodeId: string, reason: string, at: number): Promise<number> {
    const closed = await this.db`
      INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at)
      SELECT d.id, ${nodeId}, false, ${reason}, ${at}, ${at} FROM decisions d
      WHERE ${this.sentTo(nodeId)}
        AND NOT EXISTS (SELECT 1 FROM decision_acks a WHERE a.decision_id = d.id AND a.node_id = ${nodeId})
      ON CONFLICT (decision_id, node_id) DO NOTHING`;
    return closed.count;
  }

  async addAck(decisionId: string, ack: DecisionAck): Promise<void> {
    // A redelivered decision is acknowledged again; the first ack is the one that counts (also when two hubs record them at once).
    await this.db`
      INSERT INTO decision_acks (decision_id, node_id, ok, error, applied_at, received_at, result)
      VALUES (${decisionId}, ${ack.nodeId}, ${ack.ok}, ${ack.error}, ${ack.appliedAt}, ${ack.receivedAt}, ${ack.result === null ? null : JSON.stringify(ack.result)})
      ON CONFLICT (decision_id, node_id) DO NOTHING`;
  }

  async count(): Promise<number> {
    const [row] = await this.db<{ n: number }[]>`SELECT count(*) AS n FROM decisions`;
    return row!.n;
  }

  async outstanding(now: number, expiredSince: number): Promise<OutstandingDecisions[]> {
    // Fewer acks than targets means one is outstanding (acks come only from targets and removal closings).
    const rows = await this.db<{ type: string; origin: string; expired: boolean; count: number; oldest: number }[]>`
      SELECT * FROM (
        SELECT type, CASE WHEN origin::jsonb->>'kind' = 'role' THEN origin::jsonb->>'role' ELSE 'operator' END AS origin,
               expires_at <= ${now} AS expired, count(*) AS count, min(issued_at) AS oldest
        FROM decisions d
        WHERE expires_at > ${expiredSince}
          AND (SELECT count(*) FROM decision_acks a WHERE a.decision_id = d.id) < jsonb_array_length(d.targets::jsonb)
        GROUP BY 1, 2, 3) counted
      ORDER BY type COLLATE "C", origin COLLATE "C", expired`;
    return rows.map((row) => ({ type: row.type, origin: row.origin, expired: row.expired, count: row.count, oldestIssuedAt: row.oldest }));
  }

  async savePolicy(target: string, message: DesiredPolicyMessage): Promise<void> {
    await this.db`
      INSERT INTO desired_policies (target, version, message) VALUES (${target}, ${message.version}, ${JSON.stringify(message)})
      ON CONFLICT (target) DO UPDATE SET version = excluded.version, message = excluded.message`;
  }

  async policies(): Promise<Map<string, DesiredPolicyMessage>> {
    const rows = await this.db<{ target: string; message: string }[]>`SELECT target, message FROM desired_policies`;
    return new Map(rows.map((r) => [r.target, JSON.parse(r.message) as DesiredPolicyMessage]));
  }

  async hasPolicy(target: string): Promise<boolean> {
    return (await this.db`SELECT 1 FROM desired_policies WHERE target = ${target}`).length > 0;
  }

  async deletePolicy(target: string): Promise<void> {
    await this.db`DELETE FROM desired_policies WHERE target = ${target}`;
  }
}
