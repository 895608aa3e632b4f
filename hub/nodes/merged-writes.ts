// Hub replicas sharing one registry (HubStore.shared, PostgreSQL). A node's
// messages land on any replica, so no replica's view holds the whole node:
// each write merges what this replica heard since its last write into the
// stored rows under their locks, and the database decides which verdicts and
// closes are new and which health transitions happen (ordered-write.ts).
// What it wrote comes back into the view, with what was heard meanwhile on
// top. Health changes by silence alone are found in the stored recency by the
// leader's sweep; the leader also prunes what every replica wrote.
import { healthOfSilence, type HealthRules } from "./health.ts";
import { mergeNode, withoutIncrements } from "./live-merge.ts";
import type { NodeLive, NodeRecord } from "./node-model.ts";
import type { Changes, FleetView, NodeWrites, PendingChanges } from "./node-writes.ts";
import { copyLive, writeMerged, type HeardNumber, type ReplicaNodeWrite, type WrittenNode } from "./ordered-write.ts";
import { SEQUENCES_KEPT_MS, type HubStore, type MetricBucket, type StoreTransaction } from "../store/hub-store.ts";

export class MergedWrites implements NodeWrites {
  readonly ordersInDatabase = true;
  /** Verdicts, closes and reports heard, by node, until a write records them. */
  private readonly heardByNode = new Map<string, HeardNumber[]>();
  /** Each node's view as last written or read back (what was heard since is the difference). */
  private readonly baselines = new Map<string, NodeLive>();
  /** Health transitions decided by this replica's writes so far (a sweep reports how many it caused). */
  private transitionsDecided = 0;
  /** A sweep is running (the next tick skips rather than overlap it). */
  private sweeping = false;

  constructor(
    private readonly store: HubStore,
    private readonly rules: HealthRules,
    /** Whether this replica leads (hub/replicas/leadership.ts), and so prunes what every replica wrote. */
    private readonly leads: () => boolean,
    private readonly view: FleetView,
  ) {}

  /** What it hears is counted from its row as given. */
  known(node: NodeRecord): void {
    this.baselines.set(node.nodeId, copyLive(node.live));
  }

  forget(nodeId: string): void {
    this.heardByNode.delete(nodeId);
    this.baselines.delete(nodeId);
  }

  heard(nodeId: string, heard: HeardNumber): void {
    const list = this.heardByNode.get(nodeId);
    if (list) list.push(heard);
    else this.heardByNode.set(nodeId, [heard]);
  }

  /** Judged from the merged view when written (ordered-write.ts). */
  touched(): void {}

  /**
   * Also the live state of every node the pending changes name (all of them
   * are locked first, in order), each with what was heard of it since its
   * last write.
   */
  take(ids: string[], pending: PendingChanges): Pick<Changes, "ids" | "writes"> {
    const named = [...pending.transitions.map((t) => t.nodeId), ...pending.reports.map((r) => r.nodeId), ...pending.events.map((e) => e.node)];
    const known = [...new Set([...ids, ...named])].filter((id) => this.view.node(id) !== undefined);
    return { ids: known, writes: known.map((id) => this.replicaWrite(id)) };
  }

  /**
   * What this replica writes of a node: a copy of its view, its baseline, and
   * what was heard of it (taken out). The copy becomes the baseline at once:
   * a write taken while this one is in flight writes only what was heard
   * after it.
   */
  private replicaWrite(nodeId: string): ReplicaNodeWrite {
    const node = this.view.node(nodeId)!;
    const heard = this.heardByNode.get(nodeId) ?? [];
    this.heardByNode.delete(nodeId);
    const mine = copyLive(node.live);
    const baseline = this.baselines.get(nodeId) ?? mine;
    this.baselines.set(nodeId, mine);
    return { mine: { ...node, live: mine }, baseline, heard };
  }

  writeNodes(tx: StoreTransaction, changes: Changes): Promise<WrittenNode[]> {
    return writeMerged(tx, changes.writes, this.rules, changes.now);
  }

  /** Each replica holds its share of a node's minute; the leader prunes after the write (pruneAfterCommit). */
  async writeBuckets(tx: StoreTransaction, buckets: MetricBucket[]): Promise<void> {
    await tx.metricBuckets.addShares(buckets);
  }

  /**
   * Takes what was written back into the view, with what was heard since the
   * last write was taken (this one or a later one still in flight) on top;
   * the written view is the new baseline. Tells the listeners of the new
   * verdicts and closes and the transitions decided.
   */
  committed(written: readonly WrittenNode[]): void {
    for (const { nodeId, merged, health, transition, events, newVerdicts } of written) {
      const node = this.view.node(nodeId);
      if (!node) continue; // removed meanwhile
      const rebased = mergeNode(merged, node, this.baselines.get(nodeId) ?? merged.live);
      const healthChanged = node.health !== health.health;
      Object.assign(node, rebased, health);
      this.baselines.set(nodeId, copyLive(merged.live));
      if (transition) {
        this.transitionsDecided++;
        this.view.remember(nodeId, transition);
      }
      for (const { at, event } of newVerdicts) this.view.metrics.verdict(nodeId, event.verdict.verdict, event.verdict.reasons, at);
      for (const event of events) this.view.announce(event);
      if (healthChanged) this.view.changed(nodeId);
    }
  }

  /** What was heard goes with the next write, before what was heard since. */
  failed(changes: Changes): void {
    for (const { mine, baseline, heard } of changes.writes) {
      this.heardByNode.set(mine.nodeId, heard.concat(this.heardByNode.get(mine.nodeId) ?? []));
      // Its counter increments go with the next write, whether or not one was taken since.
      const current = this.baselines.get(mine.nodeId);
      if (current) this.baselines.set(mine.nodeId, withoutIncrements(current, mine.live, baseline));
    }
  }

  /**
   * The leader only: old metric buckets and heard sequence numbers go, in a
   * transaction of their own, so no replica's flush holds node-row locks
   * while the rows every replica wrote are deleted.
   */
  async pruneAfterCommit(bucketsBefore: number, now: number): Promise<void> {
    if (!this.leads()) return;
    await this.store.write(async (tx) => {
      await tx.metricBuckets.prune(bucketsBefore);
      await tx.nodes.pruneSequences(now - SEQUENCES_KEPT_MS);
    });
  }

  /**
   * Re-judges health from what every replica heard, as stored (this replica
   * may have heard none of a node's heartbeats). Nodes whose stored health
   * their stored recency contradicts are written (merged, judged and guarded
   * like any write). The health another replica stored is taken into the
   * view; with `decide` false that is all it does.
   */
  async sweepStored(now: number, decide: boolean): Promise<number> {
    if (this.sweeping) return 0; // a slow sweep: the tick after it finishes sweeps again
    this.sweeping = true;
    try {
      return await this.sweepOnce(now, decide);
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepOnce(now: number, decide: boolean): Promise<number> {
    const recency = await this.store.nodes.recency();
    for (const { nodeId, health, healthSince, healthCause } of recency) {
      const node = this.view.node(nodeId);
      // Read before a write of this replica came back with newer health: that one stands.
      if (!node || node.health === health || healthSince < node.healthSince) continue;
      Object.assign(node, { health, healthSince, healthCause });
      this.view.changed(nodeId);
    }
    if (!decide) return 0; // a follower: the leader's sweep decides (hub/replicas/leadership.ts)
    // Only silence changes health between writes (what a node says is judged when written).
    const due = recency.filter(({ nodeId, health, heardAt }) => {
      const silence = healthOfSilence(heardAt, now, this.rules);
      return this.view.node(nodeId) !== undefined && silence !== null && silence.state !== health;
    });
    if (due.length === 0) return 0;
    const before = this.transitionsDecided;
    await this.view.flushWith(due.map(({ nodeId }) => nodeId), now);
    return this.transitionsDecided - before;
  }
}
