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
  private readonly addShare;

  constructor(db: SqliteDatabase) {
    this.selectRange = db.prepare(
      "SELECT node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason FROM node_metric_buckets WHERE node_id = ? AND minute >= ? ORDER BY minute",
    );
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO node_metric_buckets (node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason)
       SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = ?)`,
    );
    this.addShare = db.prepare(
      `INSERT INTO node_metric_buckets (node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason)
       SELECT $nodeId, $minute, $load, $rssBytes, $outboxDepth, $pass, $hold, $byReason WHERE EXISTS (SELECT 1 FROM nodes WHERE node_id = $nodeId)
       ON CONFLICT (node_id, minute) DO UPDATE SET
         load = COALESCE(excluded.load, load), rss_bytes = COALESCE(excluded.rss_bytes, rss_bytes), outbox_depth = COALESCE(excluded.outbox_depth, outbox_depth),
         pass = pass + excluded.pass, hold = hold + excluded.hold,
         by_reason = (SELECT NULLIF(json_group_object(key, total), '{}')
                      FROM (SELECT key, sum(value) AS total
                            FROM (SELECT key, value FROM json_each(COALESCE(node_metric_buckets.by_reason, '{}'))
                                  UNION ALL SELECT key, value FROM json_each(COALESCE(excluded.by_reason, '{}')))
                            GROUP BY key))`,
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

  async addShares(buckets: readonly MetricBucket[]): Promise<void> {
    for (const share of buckets) {
      this.addShare.run({
        nodeId: share.nodeId,
        minute: Math.floor(share.at / MINUTE_MS),
        load: share.load,
        rssBytes: share.rssBytes,
        outboxDepth: share.outboxDepth,
        pass: share.verdicts.PASS,
        hold: share.verdicts.HOLD,
        byReason: byReasonColumn(share),
      });
    }
  }

  async prune(before: number): Promise<number> {
    return this.deleteOld.run(Math.ceil(before / MINUTE_MS)).changes;
  }
}
