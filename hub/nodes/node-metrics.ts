// Each node's recent heartbeat metrics and verdicts for the dashboard: the
// minute being heard is kept in memory per node (the last load, RSS and
// outbox depth, verdicts counted by verdict and reason) and, once the minute
// is over, handed to the fleet's flush, which writes it to the registry as a
// 1-minute bucket (kept METRIC_BUCKETS_KEPT_MS, pruned every 10 minutes). Only the open minute lives
// here, so memory stays small at 10,000 nodes whatever the day holds; the
// charts read the day from the registry. The fleet list's "verdicts in the
// last hour" is a ring of 60 minute slots per node that had verdicts, so a
// page of rows sums 60 numbers each instead of reading the registry.
// Called on every heartbeat and verdict: a map lookup and a few stores.
import { MAX_DISTINCT_REASONS, OTHER_REASONS } from "../ingest/node-messages.ts";
import { METRIC_BUCKETS_KEPT_MS, type MetricBucket } from "../store/hub-store.ts";

export const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;
/** Minutes between prunes of the registry's buckets: each walks every node's key, not worth doing every minute. */
const PRUNE_EVERY_MINUTES = 10;
/** Per slot of the hour ring: the minute it holds, then PASS and HOLD counts. */
const SLOT = 3;

interface OpenMinute {
  minute: number;
  load: number | null;
  rssBytes: number | null;
  outboxDepth: number | null;
  pass: number;
  hold: number;
  byReason: Record<string, number> | null;
}

export interface VerdictCounts {
  PASS: number;
  HOLD: number;
}

export class NodeMetrics {
  private readonly open = new Map<string, OpenMinute>();
  private readonly hours = new Map<string, Uint32Array>();
  /** Minutes over, waiting for the next flush. */
  private closed: MetricBucket[] = [];
  private rolledAt = 0;
  private prunedAt = 0;

  heartbeat(nodeId: string, heartbeat: { load: [number, number, number]; rss_bytes: number; outbox_depth: number }, now: number): void {
    const minute = this.minuteOf(nodeId, now);
    minute.load = heartbeat.load[0];
    minute.rssBytes = heartbeat.rss_bytes;
    minute.outboxDepth = heartbeat.outbox_depth;
  }

  verdict(nodeId: string, verdict: "PASS" | "HOLD", reasons: readonly string[], now: number): void {
    const minute = this.minuteOf(nodeId, now);
    if (verdict === "PASS") minute.pass++;
    else minute.hold++;
    for (const reason of reasons) {
      const byReason = (minute.byReason ??= Object.create(null) as Record<string, number>);
      const key = reason in byReason || Object.keys(byReason).length < MAX_DISTINCT_REASONS ? reason : OTHER_REASONS;
      byReason[key] = (byReason[key] ?? 0) + 1;
    }
    this.countInHour(nodeId, minute.minute, verdict);
  }

  /** PASS and HOLD verdicts counted in the hour up to `now`. */
  lastHour(nodeId: string, now: number): VerdictCounts {
    const counts = { PASS: 0, HOLD: 0 };
    const ring = this.hours.get(nodeId);
    if (!ring) return counts;
    const since = Math.floor(now / MINUTE_MS) - HOUR_MINUTES;
    for (let slot = 0; slot < ring.length; slot += SLOT) {
      if (ring[slot]! > since) {
        counts.PASS += ring[slot + 1]!;
        counts.HOLD += ring[slot + 2]!;
      }
    }
    return counts;
  }

  /** The minute being heard of a node, as a bucket (not yet in the registry), or null. */
  current(nodeId: string): MetricBucket | null {
    const minute = this.open.get(nodeId);
    return minute ? toBucket(nodeId, minute) : null;
  }

  /** A node's buckets not in the registry yet: minutes over waiting for the flush, then the open one; oldest first. */
  unwritten(nodeId: string): MetricBucket[] {
    const open = this.current(nodeId);
    const waiting = this.closed.filter((bucket) => bucket.nodeId === nodeId);
    return open ? [...waiting, open] : waiting;
  }

  /**
   * Once a minute (the walk is over every node heard): closes the open
   * minutes of nodes silent for a whole minute since. A node heard every few
   * seconds closes its own minute with its next message, so the fleet's
   * buckets reach the flush spread over the minute, not all at its start.
   * Returns, every PRUNE_EVERY_MINUTES, the time before which the registry's
   * buckets go; else null.
   */
  rollOver(now: number): number | null {
    const minute = Math.floor(now / MINUTE_MS);
    if (minute <= this.rolledAt) return null;
    this.rolledAt = minute;
    for (const [nodeId, open] of this.open) {
      if (open.minute < minute - 1) {
        this.closed.push(toBucket(nodeId, open));
        this.open.delete(nodeId);
      }
    }
    if (minute - this.prunedAt < PRUNE_EVERY_MINUTES) return null;
    this.prunedAt = minute;
    return now - METRIC_BUCKETS_KEPT_MS;
  }

  /** The buckets of minutes over, to write; putBack() them if the write fails. */
  takeClosed(): MetricBucket[] {
    const closed = this.closed;
    this.closed = [];
    return closed;
  }

  putBack(buckets: MetricBucket[]): void {
    this.closed = buckets.concat(this.closed);
  }

  forget(nodeId: string): void {
    this.open.delete(nodeId);
    this.hours.delete(nodeId);
  }

  private minuteOf(nodeId: string, now: number): OpenMinute {
    const minute = Math.floor(now / MINUTE_MS);
    const open = this.open.get(nodeId);
    if (open && open.minute === minute) return open;
    if (open && open.minute > minute) return open; // a clock step back: keep counting in the minute already open
    if (open) this.closed.push(toBucket(nodeId, open));
    const fresh: OpenMinute = { minute, load: null, rssBytes: null, outboxDepth: null, pass: 0, hold: 0, byReason: null };
    this.open.set(nodeId, fresh);
    return fresh;
  }

  private countInHour(nodeId: string, minute: number, verdict: "PASS" | "HOLD"): void {
    let ring = this.hours.get(nodeId);
    if (!ring) this.hours.set(nodeId, (ring = new Uint32Array(HOUR_MINUTES * SLOT)));
    const slot = (minute % HOUR_MINUTES) * SLOT;
    if (ring[slot] !== minute) {
      ring[slot] = minute;
      ring[slot + 1] = 0;
      ring[slot + 2] = 0;
    }
    ring[slot + (verdict === "PASS" ? 1 : 2)]!++;
  }
}

function toBucket(nodeId: string, open: OpenMinute): MetricBucket {
  return {
    nodeId,
    at: open.minute * MINUTE_MS,
    load: open.load,
    rssBytes: open.rssBytes,
    outboxDepth: open.outboxDepth,
    verdicts: { PASS: open.pass, HOLD: open.hold },
    byReason: open.byReason ? { ...open.byReason } : {},
  };
}
