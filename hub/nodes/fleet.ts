// The hub's in-memory view of the fleet. Heartbeats arrive by the thousand per
// second, so ingest changes this view only, and flush() writes what changed to
// the registry in one transaction every EDGEFED_FLUSH_MS. Registration and removal
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
// How a write reaches the registry is node-writes.ts's: one hub overwrites
// the stored rows with this view (overwrite-writes.ts); replicas sharing a
// registry (store.shared) merge into them, and the database decides which
// verdicts and closes are new and which health transitions happen
// (merged-writes.ts); what it wrote comes back into this view.
import { classifyHealth, type HealthRules } from "./health.ts";
import type { HealthState, HealthTransition, NodeRecord } from "./node-model.ts";
import { NodeMetrics } from "./node-metrics.ts";
import { EVENT_OF_REPORT, type HeardNumber, type WrittenNode } from "./ordered-write.ts";
import { nodeWritesFor, type Changes, type NodeWrites } from "./node-writes.ts";
import type { NodeFederationEvent, HubStore, ReportRecord, StoreTransaction } from "../store/hub-store.ts";

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
  /** How changes are written: overwriting the stored rows (one hub) or merged into them (replicas). */
  private readonly writes: NodeWrites;

  private constructor(
    private readonly store: HubStore,
    private readonly rules: HealthRules,
    /** The time a commit judges health at (shared registry); flush() and the sweep are given theirs. */
    private readonly clock: () => number,
    /** Shared registry: whether this replica leads (hub/replicas/leadership.ts), and so prunes what every replica wrote. */
    leads: () => boolean,
  ) {
    this.writes = nodeWritesFor(store, rules, leads, {
      node: (nodeId) => this.nodes.get(nodeId),
      judge: (node, now, cause) => this.evaluate(node, now, cause),
      sweep: (now) => this.sweep(now),
      remember: (nodeId, transition) => this.remember(nodeId, transition),
      announce: (event) => this.eventListener?.(event),
      changed: (nodeId) => this.changed(nodeId),
      metrics: this.metrics,
      flushWith: async (ids, now) => {
        for (const id of ids) this.dirty.add(id);
        await this.flush(now);
      },
    });
  }

  /** The fleet view of the nodes in the registry, with their recent transitions. */
  static async load(store: HubStore, rules: HealthRules, clock: () => number = Date.now, leads: () => boolean = () => true): Promise<Fleet> {
    const fleet = new Fleet(store, rules, clock, leads);
    const [nodes, transitions] = await Promise.all([store.nodes.all(), store.nodes.latestTransitions(RECENT_TRANSITIONS)]);
    for (const node of nodes) {
      fleet.nodes.set(node.nodeId, node);
      fleet.recent.set(node.nodeId, transitions.get(node.nodeId) ?? []);
      fleet.writes.known(node);
    }
    return fleet;
  }

  /** Whether verdict and close numbers and health transitions are decided by the database (several replicas may share it). */
  get ordersInDatabase(): boolean {
    return this.writes.ordersInDatabase;
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

  /** A node new to this view. */
  private added(node: NodeRecord): void {
    this.nodes.set(node.nodeId, node);
    this.recent.set(node.nodeId, []);
    this.writes.known(node);
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
    this.writes.forget(nodeId);
    this.metrics.forget(nodeId);
    this.idsInOrder = null;
    this.changed(nodeId);
  }

  /** Marks a node's live state changed, re-evaluating its health at `now`. */
  touched(node: NodeRecord, now: number, cause?: string): void {
    this.dirty.add(node.nodeId);
    this.writes.touched(node, now, cause);
  }

  /** Shared registry: a verdict event, close or strategy report heard, counted (or not: a redelivery) when the next write records it. */
  heardNumber(node: NodeRecord, heard: HeardNumber): void {
    this.writes.heard(node.nodeId, heard);
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
   * stored, and takes the health another replica stored into this view; with
   * `decide` false (a replica not leading) that is all it does. Returns how
   * many nodes changed state (merged-writes.ts).
   */
  sweepShared(now: number, decide = true): Promise<number> {
    return this.writes.sweepStored(now, decide);
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
    this.remember(node.nodeId, transition);
    this.pendingTransitions.push({ nodeId: node.nodeId, transition });
    this.observed({ type: "node_health", node: node.nodeId, at, state: to });
    this.changed(node.nodeId);
  }

  /** Keeps a transition among the node's most recent ones, newest first. */
  private remember(nodeId: string, transition: HealthTransition): void {
    const recent = this.recent.get(nodeId) ?? [];
    recent.unshift(transition);
    if (recent.length > RECENT_TRANSITIONS) recent.pop();
    this.recent.set(nodeId, recent);
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
    this.writes.committed(written);
    if (pruneBucketsBefore !== null) {
      // The live state is written by now; only the pruning failed (it is tried again at the next turn).
      await this.writes.pruneAfterCommit(pruneBucketsBefore, now).catch((error: Error) => {
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
      .then((written) => this.writes.committed(written));
    this.committing.set(nodeId, write);
    write.catch(() => {
      if (this.committing.get(nodeId) === write) this.committing.delete(nodeId);
      if (changes) this.putBack(changes);
    });
    return write;
  }

  /**
   * Takes the live state of `ids` and every pending transition, report and
   * event out of what is left to write, with the write strategy's part
   * (merged writes: also the nodes those name).
   */
  private take(ids: string[], now: number): Changes {
    const pending = { transitions: this.pendingTransitions, reports: this.pendingReports, events: this.pendingEvents };
    const changes: Changes = { ...pending, ...this.writes.take(ids, pending), now, buckets: [], pruneBucketsBefore: null };
    for (const id of changes.ids) this.dirty.delete(id);
    this.pendingTransitions = [];
    this.pendingReports = [];
    this.pendingEvents = [];
    return changes;
  }

  /** A write failed: keep its changes for the next one rather than losing them. */
  private putBack(changes: Changes): void {
    for (const id of changes.ids) this.dirty.add(id);
    this.writes.failed(changes);
    this.pendingTransitions = changes.transitions.concat(this.pendingTransitions);
    this.pendingReports = changes.reports.concat(this.pendingReports);
    this.pendingEvents = changes.events.concat(this.pendingEvents);
    this.metrics.putBack(changes.buckets);
  }

  /**
   * Inside the store's write transaction; what belongs to nodes removed
   * meanwhile is left out. The pending transitions (which trim
   * health_transitions) go after the node rows: merged writes lock those
   * first, in the one lock order every replica keeps.
   */
  private async write(tx: StoreTransaction, changes: Changes): Promise<WrittenNode[]> {
    const known = ({ nodeId }: { nodeId: string }) => this.nodes.has(nodeId);
    const transitions = changes.transitions.filter(known);
    const written = await this.writes.writeNodes(tx, changes);
    await tx.nodes.addTransitions(transitions);
    await tx.reports.add(changes.reports.filter(known).concat(written.flatMap((w) => w.newReports)));
    await tx.federationEvents.add(changes.events.filter(({ node }) => this.nodes.has(node)).concat(written.flatMap((w) => w.events)));
    await this.writes.writeBuckets(tx, changes.buckets.filter(known), changes.pruneBucketsBefore);
    return written;
  }
}

/** flush() wrote the live state, but the leader's pruning after it failed. */
export class PruneFailed extends Error {}
