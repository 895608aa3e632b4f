// A node's 1-minute metric bucket row (node_metric_buckets: the same columns
// in SQLite and PostgreSQL, keyed by node and minute number) and the bucket it
// holds, for both backends (hub/store/sqlite/metric-bucket-table.ts,
// hub/store/postgres/metric-bucket-table.ts).
import type { MetricBucket } from "../hub-store.ts";

export const MINUTE_MS = 60_000;

export interface BucketRow {
  node_id: string;
  minute: number;
  load: number | null;
  rss_bytes: number | null;
  outbox_depth: number | null;
  pass: number;
  hold: number;
  by_reason: string | null;
}

export function bucketOf(row: BucketRow): MetricBucket {
  return {
    nodeId: row.node_id,
    at: row.minute * MINUTE_MS,
    load: row.load,
    rssBytes: row.rss_bytes,
    outboxDepth: row.outbox_depth,
    verdicts: { PASS: row.pass, HOLD: row.hold },
    byReason: row.by_reason === null ? {} : (JSON.parse(row.by_reason) as Record<string, number>),
  };
}

/**
 * Shares of one node's minute summed into one (MetricBucketWrites.addShares):
 * counts added, the later share's gauges where it has them. In (node, minute)
 * order: every replica upserts its shares' rows in that one order, so replicas
 * flushing the same minutes at once wait for each other instead of deadlocking.
 */
export function sumSharesByMinute(shares: readonly MetricBucket[]): MetricBucket[] {
  const byKey = new Map<string, MetricBucket>();
  for (const share of shares) {
    const key = bucketKey(share);
    const before = byKey.get(key);
    if (!before) {
      byKey.set(key, share);
      continue;
    }
    const byReason = { ...before.byReason };
    for (const [reason, count] of Object.entries(share.byReason)) byReason[reason] = (byReason[reason] ?? 0) + count;
    byKey.set(key, {
      ...before,
      load: share.load ?? before.load,
      rssBytes: share.rssBytes ?? before.rssBytes,
      outboxDepth: share.outboxDepth ?? before.outboxDepth,
      verdicts: { PASS: before.verdicts.PASS + share.verdicts.PASS, HOLD: before.verdicts.HOLD + share.verdicts.HOLD },
      byReason,
    });
  }
  return [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, bucket]) => bucket);
}

/** A bucket's node and minute as one key that sorts by node, then minute (the minute zero-padded). */
function bucketKey(bucket: MetricBucket): string {
  return `${bucket.nodeId}\u0000${String(Math.floor(bucket.at / MINUTE_MS)).padStart(16, "0")}`;
}

/** The by_reason column of a bucket: null when no verdict had a reason. */
export function byReasonColumn(bucket: MetricBucket): string | null {
  return Object.keys(bucket.byReason).length ? JSON.stringify(bucket.byReason) : null;
}
