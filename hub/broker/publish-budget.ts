// Each node's MQTT publish budget (EDGEFED_RATE_MQTT_PUBLISH_*): a token
// bucket per node id. The embedded broker checks it in authorizePublish and
// disconnects a node over it; with Mosquitto, which has no per-client publish
// rate, ingest checks it and drops what is over. Either way each message over
// is reported, and the first of an episode says so (the hub logs it once): an
// episode ends after a quiet minute, so a node stuck flooding and
// reconnecting does not flood the log too.
import { TokenBuckets, type BucketRate } from "../../lib/token-bucket.ts";

export const EPISODE_QUIET_MS = 60_000;

export class PublishBudget {
  private readonly buckets: TokenBuckets;
  /** When each node last went over; a node here is in an episode until a quiet minute passes. */
  private readonly lastOver = new Map<string, number>();

  constructor(
    readonly rate: BucketRate,
    /** Called for each message over budget; `episodeStarts` for the first after a quiet minute. */
    private readonly onOver: (nodeId: string, episodeStarts: boolean) => void,
  ) {
    this.buckets = new TokenBuckets(rate);
  }

  /** Spends one message of `nodeId`'s budget: false when it is over (reported). */
  allows(nodeId: string, now: number): boolean {
    if (this.buckets.take(nodeId, now).allowed) return true;
    const last = this.lastOver.get(nodeId);
    this.lastOver.delete(nodeId); // re-inserted last: the map stays in order of last time over
    this.lastOver.set(nodeId, now);
    this.forgetQuiet(now);
    this.onOver(nodeId, last === undefined || now - last >= EPISODE_QUIET_MS);
    return false;
  }

  /** Episodes over: dropped from the front (oldest first), so the map holds only nodes over in the last minute. */
  private forgetQuiet(now: number): void {
    for (const [nodeId, at] of this.lastOver) {
      if (now - at < EPISODE_QUIET_MS) return;
      this.lastOver.delete(nodeId);
    }
  }
}
