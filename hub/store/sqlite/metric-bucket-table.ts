// Nodes' 1-minute metric buckets in SQLite (MetricBucketWrites in
// ../hub-store.ts says what each method promises). Keyed by (node, minute)
// WITHOUT ROWID: a node's day reads as one range of the key.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { MetricBucket, MetricBucketWrites } from "../hub-store.ts";

const MINUTE_MS = 60_000;

interface BucketRow {
  node_id: string;
  minute: number;
  load: number | null;
  rss_bytes: number | null;
  outbox_depth: number | null;
  pass: number;
  hold: number;
  by_reason: string | null;
}

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteMetricBucketTable implements MetricBucketWrites {
  private readonly selectRange;
  private readonly upsert;
  private readonly deleteOld;

  constructor(db: SqliteDatabase) {
    this.selectRange = db.prepare(
      "SELECT node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason FROM node_metric_buckets WHERE node_id = ? AND minute >= ? ORDER BY minute",
    );
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO node_metric_buckets (node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason)
       SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = ?)`,
    );
    // Per registered node, a range of the key each; a removed node's buckets went with it (nodes.delete).
    this.deleteOld = db.prepare("DELETE FROM node_metric_buckets WHERE node_id IN (SELECT node_id FROM nodes) AND minute < ?");
  }

  async list(nodeId: string, from: number): Promise<MetricBucket[]> {
    return this.selectRange.all<BucketRow>(nodeId, Math.ceil(from / MINUTE_MS)).map((row) => ({
      nodeId: row.node_id,
      at: row.minute * MINUTE_MS,
      load: row.load,
      rssBytes: row.rss_bytes,
      outboxDepth: row.outbox_depth,
      verdicts: { PASS: row.pass, HOLD: row.hold },
      byReason: row.by_reason === null ? {} : (JSON.parse(row.by_reason) as Record<string, number>),
    }));
  }

  async add(buckets: readonly MetricBucket[]): Promise<void> {
    for (const b of buckets) {
      const byReason = Object.keys(b.byReason).length ? JSON.stringify(b.byReason) : null;
      this.upsert.run(b.nodeId, Math.floor(b.at / MINUTE_MS), b.load, b.rssBytes, b.outboxDepth, b.verdicts.PASS, b.verdicts.HOLD, byReason, b.nodeId);
    }
  }

  async prune(before: number): Promise<number> {
    return this.deleteOld.run(Math.ceil(before / MINUTE_MS)).changes;
  }
}
