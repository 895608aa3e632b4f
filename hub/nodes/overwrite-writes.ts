// One hub with a registry of its own (SQLite, HubStore.shared false). It hears
// every message of every node, so its view is the truth: health is judged in
// memory as messages arrive (fleet.ts queues the transitions), verdict and
// close numbers are counted by ingest, and a write overwrites the stored rows
// with the view. Nothing comes back from the database.
import type { Changes, FleetView, NodeWrites } from "./node-writes.ts";
import type { NodeRecord } from "./node-model.ts";
import type { WrittenNode } from "./ordered-write.ts";
import type { MetricBucket, StoreTransaction } from "../store/hub-store.ts";

export class OverwriteWrites implements NodeWrites {
  readonly ordersInDatabase = false;

  constructor(private readonly view: FleetView) {}

  /** Nothing to keep of a node beyond the view itself. */
  known(): void {}

  forget(): void {}

  heard(): void {
    throw new Error("one hub counts verdicts, closes and reports as it hears them (ordersInDatabase is false): nothing waits for the database");
  }

  touched(node: NodeRecord, now: number, cause?: string): void {
    // The hot case, a heartbeat from a healthy online node, can change its
    // health only through load or connectivity, which the next sweep (every
    // EDGEFED_SWEEP_MS) picks up; everything else is judged at once.
    if (node.health !== "healthy" || node.live.state !== "online" || cause !== undefined) this.view.judge(node, now, cause);
  }

  take(ids: string[]): Pick<Changes, "ids" | "writes"> {
    return { ids, writes: [] };
  }

  /** The view's rows as they are now (a node removed meanwhile is left out). */
  async writeNodes(tx: StoreTransaction, changes: Changes): Promise<WrittenNode[]> {
    await tx.nodes.saveLive(changes.ids.flatMap((id) => this.view.node(id) ?? []));
    return [];
  }

  async writeBuckets(tx: StoreTransaction, buckets: MetricBucket[], pruneBefore: number | null): Promise<void> {
    await tx.metricBuckets.add(buckets);
    if (pruneBefore !== null) await tx.metricBuckets.prune(pruneBefore);
  }

  /** The view is what was written. */
  committed(): void {}

  /** The view still holds everything (fleet.ts keeps the nodes dirty). */
  failed(): void {}

  /** Pruned in the flush's own transaction (writeBuckets). */
  async pruneAfterCommit(): Promise<void> {}

  /** What is stored is this hub's view: the in-memory sweep. */
  async sweepStored(now: number, decide: boolean): Promise<number> {
    return decide ? this.view.sweep(now) : 0;
  }
}
