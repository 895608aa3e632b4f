// The hub's in-memory view of the fleet. Heartbeats arrive by the thousand per
// second, so ingest changes this view only, and flush() writes what changed to
// SQLite in one transaction every EDGEFED_FLUSH_MS. Registration and removal
// write through at once (they are acknowledged to someone). A crash loses up
// to one flush interval of live state, which heartbeats bring back. What the
// broker must not redeliver (a verdict event, a decision ack) is acknowledged
// to it only after commit() has written the node's live state
// (hub/mqtt/commit-before-ack.ts). The strategy reports' history goes in the
// same transaction as the latest report kept in the live state, so the two
// agree; so do the federation events (protocol/federation-events.ts) the
// hub observed: each new report, health transition, verdict event and close,
// in the order observed, the federation roles' input stream. Each node's
// closed 1-minute metric buckets (node-metrics.ts) go with the flush too.
// With several replicas on one registry (store.shared), a write merges into
// the stored rows instead of overwriting them, and the database decides
// which verdicts and closes are new and which health transitions happen
// (ordered-write.ts); what it wrote comes back into this view.
import { classifyHealth, healthOfSilence, type HealthRules } from "./health.ts";
import { mergeNode, withoutIncrements } from "./live-merge.ts";
import type { HealthState, HealthTransition, NodeLive, NodeRecord } from "./node-model.ts";
import { NodeMetrics } from "./node-metrics.ts";
import { copyLive, EVENT_OF_REPORT, writeMerged, type HeardNumber, type ReplicaNodeWrite, type WrittenNode } from "./ordered-write.ts";
import { SEQUENCES_KEPT_MS, type MetricBucket, type NodeFederationEvent, type HubStore, type ReportRecord, type StoreTransaction } from "../store/hub-store.ts";

const RECENT_TRANSITIONS = 20;

export class Fleet {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly recent = new Map<string, HealthTransition[]>();
  private readonly dirty = new Set<string>();
  private pendingTransitions: { nodeId: string; transition: HealthTransition }[] = [];
  private pendingReports: ReportRecord[] = [];
  private pendingEvents: NodeFederationEvent[] = [];
  /** Told of each federation event as it is observed (the federation engine); none by default. */
  private eventListener: ((event: NodeFederationEvent) => void) | null = null;
  /** Nodes whose live state is queued for the next group commit, with its promise. */
  private readonly committing = new Map<string, Promise<void>>();
  /** Each node's metrics of the minute being heard and verdicts of the last hour (the dashboard's). */
  readonly metrics = new NodeMetrics();
  /** Told of each node whose row changed (registered, born, health, removed): the dashboard's live stream. */
  private readonly changeListeners: Array<(nodeId: string) => void> = [];
  /** Node ids in order, kept until a node comes or goes (the node list's default order, at 10,000 nodes). */
  private idsInOrder: NodeRecord[] | null = null;
  /** Shared registry only: verdicts and closes heard, by node, until a write records them. */
  private readonly heard = new Map<string, HeardNumber[]>();
  /** Shared registry only: each node's view as last written or read back (what was heard since is the difference). */
  private readonly baselines = new Map<string, NodeLive>();
  /** Shared registry only: health transitions decided by this replica's writes so far. */
  private transitionsDecided = 0;
  /** Shared registry only: a sweep is running (the next tick skips rather than overlap it). */
  private sweeping = false;

  private constructor(
    private readonly store: HubStore,
    private readonly rules: HealthRules,
    /** The time a commit judges health at (shared registry); flush() and the sweep are given theirs. */
    private readonly clock: () => number,
    /** Shared registry: whether this replica leads (hub/replicas/leadership.ts), and so prunes what every replica wrote. */
    private readonly leads: () => boolean,
  ) {}

  /** The fleet view of the nodes in the registry, with their recent transitions. */
  static async load(store: HubStore, rules: HealthRules, clock: () => number = Date.now, leads: () => boolean = () => true): Promise<Fleet> {
    const fleet = new Fleet(store, rules, clock, leads);
    const [nodes, transitions] = await Promise.all([store.nodes.all(), store.nodes.latestTransitions(RECENT_TRANSITIONS)]);
    for (const node of nodes) {
      fleet.nodes.set(node.nodeId, node);
      fleet.recent.set(node.nodeId, transitions.get(node.nodeId) ?? []);
      if (store.shared) fleet.baselines.set(node.nodeId, copyLive(node.live));
    }
    return fleet;
  }

  /** Whether verdict and close numbers and health transitions are decided by the database (several replicas may share it). */
  get ordersInDatabase(): boolean {
    return this.store.shared;
  }

  get(nodeId: string): NodeRecord | undefined {
    return this.nodes.get(nodeId);
  }

  all(): IterableIterator<NodeRecord> {
    return this.nodes.values();
  }

  /** Every node by id; the same array until a node is registered or removed (do not change it). */
  byId(): readonly NodeRecord[] {
    this.idsInOrder ??= [...this.nodes.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    return this.idsInOrder;
  }

  /** Calls `listener` with the id of each node whose row changed: registered, born, health changed, removed. */
  onChange(listener: (nodeId: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Tells the change listeners a node's row changed (a birth, which the fleet does not see itself). */
  changed(nodeId: string): void {
    for (const listener of this.changeListeners) listener(nodeId);
  }

  get size(): number {
    return this.nodes.size;
  }

  /** Newest first. */
  transitions(nodeId: string): HealthTransition[] {
    return this.recent.get(nodeId) ?? [];
  }

  /** Adopts a node just written to the store (registration). */
  put(node: NodeRecord): void {
    const known = this.nodes.get(node.nodeId);
    if (known) return this.reregistered(node, known);
    this.added(node);
    this.transition(node, null, "offline", node.registeredAt, "registered, not heard from yet"); // tells the listeners
  }

  /**
   * Takes up a node as another hub replica wrote it to the shared registry
   * (hub/replicas/replica-sync.ts): a new one as stored (that replica wrote
   * its first transition), a known one as a re-registration.
   */
  adopt(node: NodeRecord): void {
    const known = this.nodes.get(node.nodeId);
    if (known) return this.reregistered(node, known);
    this.added(node);
    this.changed(node.nodeId);
  }

  /** A node new to this view; what it hears is counted from its row as given (shared registry). */
  private added(node: NodeRecord): void {
    this.nodes.set(node.nodeId, node);
    this.recent.set(node.nodeId, []);
    if (this.store.shared) this.baselines.set(node.nodeId, copyLive(node.live));
    this.idsInOrder = null;
  }

  /** Re-registration: keep what the hub has heard, take the new registration fields. */
  private reregistered(node: NodeRecord, known: NodeRecord): void {
    node.live = known.live;
    node.health = known.health;
    node.healthSince = known.healthSince;
    node.healthCause = known.healthCause;
    this.nodes.set(node.nodeId, node);
    this.idsInOrder = null;
    this.changed(node.nodeId);
  }

  remove(nodeId: string): void {
    this.nodes.delete(nodeId);
    this.recent.delete(nodeId);
    this.dirty.delete(nodeId);
    this.heard.delete(nodeId);
    this.baselines.delete(nodeId);
    this.metrics.forget(nodeId);
    this.idsInOrder = null;
    this.changed(nodeId);
  }

  /** Marks a node's live state changed, re-evaluating its health at `now`. */
  touched(node: NodeRecord, now: number, cause?: string): void {
    this.dirty.add(node.nodeId);
    if (this.store.shared) return; // judged from the merged view when written (ordered-write.ts)
    // The hot case, a heartbeat from a healthy online node, can change its
    // health only through load or connectivity, which the next sweep (every
    // EDGEFED_SWEEP_MS) picks up; everything else is judged at once.
    if (node.health !== "healthy" || node.live.state !== "online" || cause !== undefined) this.evaluate(node, now, cause);
  }

  /** Shared registry: a verdict event, close or strategy report heard, counted (or not: a redelivery) when the next write records it. */
  heardNumber(node: NodeRecord, heard: HeardNumber): void {
    const list = this.heard.get(node.nodeId);
    if (list) list.push(heard);
    else this.heard.set(node.nodeId, [heard]);
    this.dirty.add(node.nodeId);
  }

  /** Queues a new strategy report for the history (the latest is in the node's live state already), and its federation event. */
  reported(record: ReportRecord): void {
    this.pendingReports.push(record);
    this.observed({ type: EVENT_OF_REPORT[record.kind], node: record.nodeId, at: record.receivedAt, report: record.report } as NodeFederationEvent);
  }

  /** Queues a federation event the hub observed, written with the node's live state. */
  observed(event: NodeFederationEvent): void {
    this.pendingEvents.push(event);
    this.dirty.add(event.node);
    this.eventListener?.(event);
  }

  /** Hands every federation event observed from now on to `listener`, in order (one listener: the hub's engine). */
  onEvent(listener: (event: NodeFederationEvent) => void): void {
    this.eventListener = listener;
  }

  /** Re-evaluates every node's health; returns how many changed state. */
  sweep(now: number): number {
    let changed = 0;
    for (const node of this.nodes.values()) if (this.evaluate(node, now)) changed++;
    return changed;
  }

  /**
   * Shared registry: re-evaluates health from what every replica heard, as
   * stored (this replica may have heard none of a node's heartbeats). Nodes
   * whose stored health their stored recency contradicts are written (merged,
   * judged and guarded like any write); returns how many changed state.
   * The health another replica stored is taken into this view; with
   * `decide` false (a replica not leading) that is all it does.
   */
  async sweepShared(now: number, decide = true): Promise<number> {
    if (this.sweeping) return 0; // a slow sweep: the tick after it finishes sweeps again
    this.sweeping = true;
    try {
      return await this.sweepSharedOnce(now, decide);
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepSharedOnce(now: number, decide: boolean): Promise<number> {
    const recency = await this.store.nodes.recency();
    for (const { nodeId, health, healthSince, healthCause } of recency) {
      const node = this.nodes.get(nodeId);
      // Read before a write of this replica came back with newer health: that one stands.
      if (!node || node.health === health || healthSince < node.healthSince) continue;
      Object.assign(node, { health, healthSince, healthCause });
      this.changed(nodeId);
    }
    if (!decide) return 0; // a follower: the leader's sweep decides (hub/replicas/leadership.ts)
    // Only silence changes health between writes (what a node says is judged when written).
    const due = recency.filter(({ nodeId, health, heardAt }) => {
      const silence = healthOfSilence(heardAt, now, this.rules);
      return this.nodes.has(nodeId) && silence !== null && silence.state !== health;
    });
    if (due.length === 0) return 0;
    for (const { nodeId } of due) this.dirty.add(nodeId);
    const before = this.transitionsDecided;
    await this.flush(now);
    return this.transitionsDecided - before;
  }

  private evaluate(node: NodeRecord, now: number, cause?: string): boolean {
    const health = classifyHealth(node.live, now, this.rules);
    if (health.state === node.health) return false;
    this.transition(node, node.health, health.state, now, cause ?? health.cause);
    return true;
  }

  private transition(node: NodeRecord, from: HealthState | null, to: HealthState, at: number, cause: string): void {
    const transition: HealthTransition = { from, to, at, cause };
    node.health = to;
    node.healthSince = at;
    node.healthCause = cause;
    const recent = this.recent.get(node.nodeId) ?? [];
    recent.unshift(transition);
    if (recent.length > RECENT_TRANSITIONS) recent.pop();
    this.recent.set(node.nodeId, recent);
    this.pendingTransitions.push({ nodeId: node.nodeId, transition });
    this.observed({ type: "node_health", node: node.nodeId, at, state: to });
    this.changed(node.nodeId);
  }

  countsByHealth(): Record<HealthState, number> {
    const counts: Record<HealthState, number> = { healthy: 0, degraded: 0, unhealthy: 0, offline: 0 };
    for (const node of this.nodes.values()) counts[node.health]++;
    return counts;
  }

  /** Writes changed live state, new transitions and reports in one transaction; resolves once committed. */
  async flush(now = Date.now()): Promise<number> {
    const pruneBucketsBefore = this.metrics.rollOver(now);
    const buckets = this.metrics.takeClosed();
    const idle = this.dirty.size === 0 && this.pendingTransitions.length === 0 && this.pendingEvents.length === 0;
    if (idle && buckets.length === 0 && pruneBucketsBefore === null) return 0;
    const changes = { ...this.take([...this.dirty], now), buckets, pruneBucketsBefore };
    let written: WrittenNode[];
    try {
      written = await this.store.write((tx) => this.write(tx, changes));
    } catch (error) {
      this.putBack(changes);
      throw error;
    }
    this.takeBack(written);
    if (this.store.shared && pruneBucketsBefore !== null) {
      // The live state is written by now; only the pruning failed (it is tried again at the next turn).
      await this.pruneShared(pruneBucketsBefore, now).catch((error: Error) => {
        throw new PruneFailed(`pruning old metric buckets and heard numbers failed (tried again at the next turn): ${error.message}`);
      });
    }
    return changes.ids.length;
  }

  /**
   * Writes this node's live state (and the transitions and reports pending)
   * in the next group commit, not waiting for the flush. Resolves once
   * committed, and so once every write queued before it is too (the ack a
   * decision ack queued). Calls in one turn share one write.
   */
  commit(nodeId: string): Promise<void> {
    if (!this.nodes.has(nodeId)) return Promise.resolve();
    const queued = this.committing.get(nodeId);
    if (queued) return queued;
    let changes: Changes | undefined;
    const write = this.store
      .write(async (tx) => {
        // From here on, what changes the node waits for the next commit.
        this.committing.delete(nodeId);
        changes = this.take([nodeId], this.clock());
        return this.write(tx, changes);
      })
      .then((written) => this.takeBack(written));
    this.committing.set(nodeId, write);
    write.catch(() => {
      if (this.committing.get(nodeId) === write) this.committing.delete(nodeId);
      if (changes) this.putBack(changes);
    });
    return write;
  }

  /**
   * Takes the live state of `ids` and every pending transition, report and
   * event out of what is left to write. Shared registry: also the live state
   * of every node those name (all of them are locked first, in order), each
   * with what was heard of it since its last write.
   */
  private take(ids: string[], now: number): Changes {
    if (this.store.shared) {
      const named = [...this.pendingTransitions.map((t) => t.nodeId), ...this.pendingReports.map((r) => r.nodeId), ...this.pendingEvents.map((e) => e.node)];
      ids = [...new Set([...ids, ...named])].filter((id) => this.nodes.has(id));
    }
    const changes: Changes = { ids, now, transitions: this.pendingTransitions, reports: this.pendingReports, events: this.pendingEvents, buckets: [], pruneBucketsBefore: null, writes: [] };
    if (this.store.shared) changes.writes = ids.map((id) => this.replicaWrite(id));
    for (const id of ids) this.dirty.delete(id);
    this.pendingTransitions = [];
    this.pendingReports = [];
    this.pendingEvents = [];
    return changes;
  }

  /**
   * What this replica writes of a node: a copy of its view, its baseline, and
   * what was heard of it (taken out). The copy becomes the baseline at once:
   * a write taken while this one is in flight writes only what was heard
   * after it.
   */
  private replicaWrite(nodeId: string): ReplicaNodeWrite {
    const node = this.nodes.get(nodeId)!;
    const heard = this.heard.get(nodeId) ?? [];
    this.heard.delete(nodeId);
    const mine = copyLive(node.live);
    const baseline = this.baselines.get(nodeId) ?? mine;
    this.baselines.set(nodeId, mine);
    return { mine: { ...node, live: mine }, baseline, heard };
  }

  /**
   * Shared registry, once committed: takes what was written back into this
   * view, with what was heard since the last write was taken (this one or a
   * later one still in flight) on top; the written view is the new baseline.
   * Tells the listeners of the new verdicts and closes and the transitions
   * decided.
   */
  private takeBack(written: readonly WrittenNode[]): void {
    for (const { nodeId, merged, health, transition, events, newVerdicts } of written) {
      const node = this.nodes.get(nodeId);
      if (!node) continue; // removed meanwhile
      const rebased = mergeNode(merged, node, this.baselines.get(nodeId) ?? merged.live);
      const healthChanged = node.health !== health.health;
      Object.assign(node, rebased, health);
      this.baselines.set(nodeId, copyLive(merged.live));
      if (transition) {
        this.transitionsDecided++;
        const recent = this.recent.get(nodeId) ?? [];
        recent.unshift(transition);
        if (recent.length > RECENT_TRANSITIONS) recent.pop();
        this.recent.set(nodeId, recent);
      }
      for (const { at, event } of newVerdicts) this.metrics.verdict(nodeId, event.verdict.verdict, event.verdict.reasons, at);
      for (const event of events) this.eventListener?.(event);
      if (healthChanged) this.changed(nodeId);
    }
  }

  /** A write failed: keep its changes for the next one rather than losing them. */
  private putBack(changes: Changes): void {
    for (const id of changes.ids) this.dirty.add(id);
    for (const { mine, baseline, heard } of changes.writes) {
      this.heard.set(mine.nodeId, heard.concat(this.heard.get(mine.nodeId) ?? []));
      // Its counter increments go with the next write, whether or not one was taken since.
      const current = this.baselines.get(mine.nodeId);
      if (current) this.baselines.set(mine.nodeId, withoutIncrements(current, mine.live, baseline));
    }
    this.pendingTransitions = changes.transitions.concat(this.pendingTransitions);
    this.pendingReports = changes.reports.concat(this.pendingReports);
    this.pendingEvents = changes.events.concat(this.pendingEvents);
    this.metrics.putBack(changes.buckets);
  }

  /**
   * Inside the store's write transaction; what belongs to nodes removed
   * meanwhile is left out. Shared registry: returns what it merged; the
   * pending transitions (which trim health_transitions) go after the merge
   * has locked the node rows, in the one lock order every replica keeps.
   */
  private async write(tx: StoreTransaction, changes: Changes): Promise<WrittenNode[]> {
    const transitions = changes.transitions.filter(({ nodeId }) => this.nodes.has(nodeId));
    if (!this.store.shared) {
      await tx.nodes.saveLive(changes.ids.flatMap((id) => this.nodes.get(id) ?? []));
      await tx.nodes.addTransitions(transitions);
    }
    const written = this.store.shared ? await writeMerged(tx, changes.writes, this.rules, changes.now) : [];
    if (this.store.shared) await tx.nodes.addTransitions(transitions);
    await tx.reports.add(changes.reports.filter(({ nodeId }) => this.nodes.has(nodeId)).concat(written.flatMap((w) => w.newReports)));
    await tx.federationEvents.add(changes.events.filter(({ node }) => this.nodes.has(node)).concat(written.flatMap((w) => w.events)));
    // Several replicas: each holds its share of a node's minute.
    const buckets = changes.buckets.filter(({ nodeId }) => this.nodes.has(nodeId));
    await (this.store.shared ? tx.metricBuckets.addShares(buckets) : tx.metricBuckets.add(buckets));
    // A shared registry is pruned by the leader, after the write (pruneShared).
    if (changes.pruneBucketsBefore !== null && !this.store.shared) await tx.metricBuckets.prune(changes.pruneBucketsBefore);
    return written;
  }

  /**
   * Shared registry, the leader only: old metric buckets and heard sequence
   * numbers go, in a transaction of their own, so no replica's flush holds
   * node-row locks while the rows every replica wrote are deleted.
   */
  private async pruneShared(bucketsBefore: number, now: number): Promise<void> {
    if (!this.leads()) return;
    await this.store.write(async (tx) => {
      await tx.metricBuckets.prune(bucketsBefore);
      await tx.nodes.pruneSequences(now - SEQUENCES_KEPT_MS);
    });
  }
}

/** flush() wrote the live state, but the leader's pruning after it failed. */
export class PruneFailed extends Error {}

interface Changes {
  ids: string[];
  /** When the write was taken: health is judged as of then. */
  now: number;
  /** Shared registry only: what this replica writes of each node in `ids`. */
  writes: ReplicaNodeWrite[];
  transitions: { nodeId: string; transition: HealthTransition }[];
  reports: ReportRecord[];
  events: NodeFederationEvent[];
  buckets: MetricBucket[];
  /** Set every 10 minutes: buckets older than this go. */
  pruneBucketsBefore: number | null;
}
