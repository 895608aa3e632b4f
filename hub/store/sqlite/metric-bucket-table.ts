// Nodes' 1-minute metric buckets in SQLite (MetricBucketWrites in
// ../hub-store.ts says what each method promises). Keyed by (node, minute)
// WITHOUT ROWID: a node's day reads as one range of the key.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { MetricBucket, MetricBucketWrites } from "../hub-store.ts";
import { bucketOf, byReasonColumn, MINUTE_MS, type BucketRow } from "../rows/metric-bucket-rows.ts";

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
    return this.selectRange.all<BucketRow>(nodeId, Math.ceil(from / MINUTE_MS)).map(bucketOf);
  }

  async add(buckets: readonly MetricBucket[]): Promise<void> {
    for (const b of buckets) {
      this.upsert.run(b.nodeId, Math.floor(b.at / MINUTE_MS), b.load, b.rssBytes, b.outboxDepth, b.verdicts.PASS, b.verdicts.HOLD, byReasonColumn(b), b.nodeId);
    }
  }

  async prune(before: number): Promise<number> {
    return this.deleteOld.run(Math.ceil(before / MINUTE_MS)).changes;
  }
}
