// How the fleet view's changes reach the registry (fleet.ts keeps the view,
// collects what changed and decides when to write; a NodeWrites decides how).
// Two ways, chosen once per hub by whether other hubs write the same registry:
// - overwrite-writes.ts, one hub (SQLite): it hears every message of its
//   nodes, so its view is the truth and overwrites the stored rows; health
//   is judged in memory as messages arrive;
// - merged-writes.ts, replicas on a shared registry (PostgreSQL): each heard
//   only part of a node's messages, so a write merges into the locked rows
//   and the database decides what is new and which transitions happen;
//   what it decided comes back into the view.
import type { HealthRules } from "./health.ts";
import type { HealthTransition, NodeRecord } from "./node-model.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import type { HeardNumber, ReplicaNodeWrite, WrittenNode } from "./ordered-write.ts";
import type { HubStore, MetricBucket, NodeFederationEvent, ReportRecord, StoreTransaction } from "../store/hub-store.ts";
import { MergedWrites } from "./merged-writes.ts";
import { OverwriteWrites } from "./overwrite-writes.ts";

/** The pending changes of the view, as one write takes them. */
export interface PendingChanges {
  transitions: { nodeId: string; transition: HealthTransition }[];
  reports: ReportRecord[];
  events: NodeFederationEvent[];
}

/** One write of the fleet view: what fleet.ts took out of what is left to write, and the strategy's part. */
export interface Changes extends PendingChanges {
  /** The nodes whose live state this write covers. */
  ids: string[];
  /** When the write was taken: health is judged as of then. */
  now: number;
  /** Merged writes only (empty when overwriting): what this replica writes of each node in `ids`. */
  writes: ReplicaNodeWrite[];
  buckets: MetricBucket[];
  /** Set every 10 minutes: buckets older than this go. */
  pruneBucketsBefore: number | null;
}

/** What a write strategy sees and does of the fleet view it writes (fleet.ts hands it one). */
export interface FleetView {
  node(nodeId: string): NodeRecord | undefined;
  /** Judges a node's health in memory at `now`; a change becomes a transition written with the next write. */
  judge(node: NodeRecord, now: number, cause?: string): void;
  /** Judges every node's health in memory; returns how many changed state. */
  sweep(now: number): number;
  /** Keeps a transition the database decided among the node's recent ones. */
  remember(nodeId: string, transition: HealthTransition): void;
  /** Hands a federation event the database counted as new to the event listener. */
  announce(event: NodeFederationEvent): void;
  /** Tells the change listeners a node's row changed. */
  changed(nodeId: string): void;
  readonly metrics: NodeMetrics;
  /** Writes these nodes, with everything else pending, now (a flush). */
  flushWith(ids: readonly string[], now: number): Promise<void>;
}

export interface NodeWrites {
  /** Whether verdict and close numbers and health transitions are decided by the database (heard numbers go through heard()). */
  readonly ordersInDatabase: boolean;
  /** A node came into the view (loaded, registered, adopted), as stored. */
  known(node: NodeRecord): void;
  /** A node left the view. */
  forget(nodeId: string): void;
  /** A verdict event, close or strategy report heard, for the next write to count (or not: a redelivery). */
  heard(nodeId: string, heard: HeardNumber): void;
  /** A node's live state changed at `now`. */
  touched(node: NodeRecord, now: number, cause?: string): void;
  /** Which nodes a write of `ids` with these pending changes covers, and what it writes of each; taken out of what is left to write. */
  take(ids: string[], pending: PendingChanges): Pick<Changes, "ids" | "writes">;
  /** Inside the write transaction: the nodes' rows; returns what the database decided of each (none when overwriting). */
  writeNodes(tx: StoreTransaction, changes: Changes): Promise<WrittenNode[]>;
  /** Inside the write transaction, last: the closed metric buckets, and the pruning that belongs in it. */
  writeBuckets(tx: StoreTransaction, buckets: MetricBucket[], pruneBefore: number | null): Promise<void>;
  /** The write committed: what the database decided comes back into the view. */
  committed(written: readonly WrittenNode[]): void;
  /** The write failed: its part goes with the next write rather than being lost. */
  failed(changes: Changes): void;
  /** After a flush committed, the pruning that is not done in its transaction. */
  pruneAfterCommit(bucketsBefore: number, now: number): Promise<void>;
  /** Re-judges health as stored; with `decide` false (a replica not leading) it only takes in what is stored. Returns how many nodes changed state. */
  sweepStored(now: number, decide: boolean): Promise<number>;
}

/** Merged writes when the registry is shared with other hub replicas (store.shared), overwriting ones otherwise. */
export function nodeWritesFor(store: HubStore, rules: HealthRules, leads: () => boolean, view: FleetView): NodeWrites {
  return store.shared ? new MergedWrites(store, rules, leads, view) : new OverwriteWrites(view);
}
