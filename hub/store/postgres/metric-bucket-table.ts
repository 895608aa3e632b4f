// Nodes' 1-minute metric buckets in PostgreSQL (MetricBucketWrites in
// ../hub-store.ts says what each method promises), keyed by (node, minute).
import type { MetricBucket, MetricBucketWrites } from "../hub-store.ts";
import { bucketOf, byReasonColumn, MINUTE_MS, sumSharesByMinute, type BucketRow } from "../rows/metric-bucket-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresMetricBucketTable implements MetricBucketWrites {
  constructor(private readonly db: Db) {}

  async list(nodeId: string, from: number): Promise<MetricBucket[]> {
    const rows = await this.db<BucketRow[]>`
      SELECT node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason FROM node_metric_buckets
      WHERE node_id = ${nodeId} AND minute >= ${Math.ceil(from / MINUTE_MS)} ORDER BY minute`;
    return rows.map(bucketOf);
  }

  async add(buckets: readonly MetricBucket[]): Promise<void> {
    // One statement for the batch; a node's minute given twice keeps the last (as SQLite's INSERT OR REPLACE in turn),
    // since one INSERT ... ON CONFLICT may not touch a row twice.
    const last = [...new Map(buckets.map((b) => [`${b.nodeId}\u0000${Math.floor(b.at / MINUTE_MS)}`, b])).values()];
    await this.upsert(
      last,
      this.db`ON CONFLICT (node_id, minute) DO UPDATE SET load = excluded.load, rss_bytes = excluded.rss_bytes, outbox_depth = excluded.outbox_depth,
        pass = excluded.pass, hold = excluded.hold, by_reason = excluded.by_reason`,
    );
  }

  async addShares(buckets: readonly MetricBucket[]): Promise<void> {
    // One statement may not touch a row twice: shares of one minute in the batch are summed first.
    // Summed in the statement (not read, then written): two replicas adding to one minute at once both count.
    await this.upsert(
      sumSharesByMinute(buckets),
      this.db`ON CONFLICT (node_id, minute) DO UPDATE SET
          load = COALESCE(excluded.load, node_metric_buckets.load), rss_bytes = COALESCE(excluded.rss_bytes, node_metric_buckets.rss_bytes),
          outbox_depth = COALESCE(excluded.outbox_depth, node_metric_buckets.outbox_depth),
          pass = node_metric_buckets.pass + excluded.pass, hold = node_metric_buckets.hold + excluded.hold,
          by_reason = (SELECT NULLIF(COALESCE(jsonb_object_agg(key, total), '{}'::jsonb)::text, '{}')
                       FROM (SELECT key, sum(value::bigint) AS total
                             FROM (SELECT * FROM jsonb_each_text(COALESCE(node_metric_buckets.by_reason, '{}')::jsonb)
                                   UNION ALL SELECT * FROM jsonb_each_text(COALESCE(excluded.by_reason, '{}')::jsonb)) pairs
                             GROUP BY key) summed)`,
    );
  }

  /** Inserts `buckets` (of registered nodes only) in one statement, `onConflict` saying what a minute already there becomes. */
  private async upsert(buckets: readonly MetricBucket[], onConflict: ReturnType<Db>): Promise<void> {
    if (buckets.length === 0) return;
    const column = <T>(pick: (b: MetricBucket) => T) => buckets.map(pick);
    const text = (n: number | null) => (n === null ? null : String(n));
    await this.db`
      INSERT INTO node_metric_buckets (node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason)
      SELECT * FROM unnest(${column((b) => b.nodeId)}::text[], ${column((b) => String(Math.floor(b.at / MINUTE_MS)))}::bigint[],
                           ${column((b) => text(b.load))}::double precision[], ${column((b) => text(b.rssBytes))}::bigint[],
                           ${column((b) => text(b.outboxDepth))}::bigint[], ${column((b) => String(b.verdicts.PASS))}::bigint[],
                           ${column((b) => String(b.verdicts.HOLD))}::bigint[], ${column(byReasonColumn)}::text[])
        AS added(node_id, minute, load, rss_bytes, outbox_depth, pass, hold, by_reason)
      WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.node_id = added.node_id)
      ${onConflict}`;
  }

  async prune(before: number): Promise<number> {
    return (await this.db`DELETE FROM node_metric_buckets WHERE minute < ${Math.ceil(before / MINUTE_MS)}`).count;
  }
}
