// A replica's write of node live state when several hub replicas share the
// registry (HubStore.shared, PostgreSQL). A node's messages land on any
// replica, so what is new, what a node's health is and what its counters say
// is decided here, in the database transaction, not in one replica's memory:
// 1. the nodes' rows are read and locked (in node id order: two replicas
//    never deadlock), so writes to one node take turns across replicas;
// 2. each verdict and close number heard is recorded in node_sequences; only
//    those recorded now are new (counted, observed); the others are
//    redeliveries, wherever they were first heard;
// 3. what this replica heard since its last write is merged into the stored
//    live view (live-merge.ts), never overwriting what others wrote;
// 4. health is judged from the merged view, and a transition written only
//    when it differs from the stored health, so two replicas never record
//    one transition twice, and a stale cache cannot invent one.
// The caller (fleet.ts) takes the result back into memory once committed.
import type { CloseMessage, VerdictEventMessage } from "../../protocol/messages.ts";
import { countNewClose, countNewVerdict } from "../ingest/node-messages.ts";
import type { NodeFederationEvent, NodeSequence, StoreTransaction } from "../store/hub-store.ts";
import { classifyHealth, type HealthRules } from "./health.ts";
import { mergeNode, type MergedNode } from "./live-merge.ts";
import type { HealthTransition, NodeLive, NodeRecord } from "./node-model.ts";

/** A verdict event or close a replica heard, waiting for the database to say whether it is new. */
export type HeardNumber = { kind: "verdict"; at: number; event: VerdictEventMessage } | { kind: "close"; at: number; close: CloseMessage };

/** One node as this replica writes it. */
export interface ReplicaNodeWrite {
  /** The replica's view of the node, copied when the write began (ingest goes on changing the original). */
  mine: NodeRecord;
  /** The view this replica last wrote or read back: what it heard since is `mine` minus this. */
  baseline: NodeLive;
  /** Verdicts and closes heard since, in the order heard. */
  heard: HeardNumber[];
}

/** What was written of one node: the caller takes it back into memory once committed. */
export interface WrittenNode {
  nodeId: string;
  merged: MergedNode;
  health: Pick<NodeRecord, "health" | "healthSince" | "healthCause">;
  /** The transition this write decided, or null. */
  transition: HealthTransition | null;
  /** The federation events of what this write counted as new, in the order heard (a transition's last). */
  events: NodeFederationEvent[];
  /** The verdicts counted as new (the dashboard's metrics). */
  newVerdicts: { at: number; event: VerdictEventMessage }[];
}

export async function writeMerged(tx: StoreTransaction, writes: readonly ReplicaNodeWrite[], rules: HealthRules, now: number): Promise<WrittenNode[]> {
  const byId = new Map(writes.map((write) => [write.mine.nodeId, write]));
  const stored = await tx.nodes.lockForMerge([...byId.keys()]);
  const isNew = await recordHeard(tx, writes);
  const written = stored.map((row) => mergeOne(row, byId.get(row.nodeId)!, isNew, rules, now));
  await tx.nodes.saveLive(written.map(({ merged, health }, i) => ({ ...stored[i]!, ...merged, ...health })));
  await tx.nodes.addTransitions(written.flatMap(({ nodeId, transition }) => (transition ? [{ nodeId, transition }] : [])));
  return written;
}

/** Records every number heard; returns whether each heard one was recorded now (the first of equal ones in the batch). */
async function recordHeard(tx: StoreTransaction, writes: readonly ReplicaNodeWrite[]): Promise<(heard: HeardNumber) => boolean> {
  const entries = new Map<HeardNumber, NodeSequence>();
  for (const { mine, heard } of writes) {
    for (const one of heard) entries.set(one, { nodeId: mine.nodeId, kind: one.kind, seq: seqOf(one), at: one.at });
  }
  const recorded = new Set((await tx.nodes.recordSequences([...entries.values()])).map(keyOf));
  // Walked in the order heard: the first of a seq heard twice takes the record, the second is a redelivery.
  const recordedNow = new Set<HeardNumber>();
  for (const [heard, entry] of entries) if (recorded.delete(keyOf(entry))) recordedNow.add(heard);
  return (heard) => recordedNow.has(heard);
}

function mergeOne(row: NodeRecord, write: ReplicaNodeWrite, isNew: (heard: HeardNumber) => boolean, rules: HealthRules, now: number): WrittenNode {
  const merged = mergeNode(row, write.mine, write.baseline);
  const events: NodeFederationEvent[] = [];
  const newVerdicts: WrittenNode["newVerdicts"] = [];
  const { verdicts, closes } = merged.live;
  for (const heard of write.heard) {
    const fresh = isNew(heard);
    if (heard.kind === "verdict") {
      if (!fresh) verdicts.duplicates++;
      else {
        countNewVerdict(verdicts, heard.event);
        events.push({ type: "verdict", node: row.nodeId, at: heard.at, event: heard.event });
        newVerdicts.push(heard);
      }
    } else if (!fresh) closes.duplicates++;
    else {
      countNewClose(closes, heard.close);
      const { seq: _, ...outcome } = heard.close; // the close number only orders the wire
      events.push({ type: "close", node: row.nodeId, at: heard.at, close: outcome });
    }
  }
  const judged = classifyHealth(merged.live, now, rules);
  if (judged.state === row.health) {
    const health = { health: row.health, healthSince: row.healthSince, healthCause: row.healthCause };
    return { nodeId: row.nodeId, merged, health, transition: null, events, newVerdicts };
  }
  const transition: HealthTransition = { from: row.health, to: judged.state, at: now, cause: judged.cause };
  events.push({ type: "node_health", node: row.nodeId, at: now, state: judged.state });
  const health = { health: judged.state, healthSince: now, healthCause: judged.cause };
  return { nodeId: row.nodeId, merged, health, transition, events, newVerdicts };
}

function seqOf(heard: HeardNumber): number {
  return heard.kind === "verdict" ? heard.event.seq : heard.close.seq;
}

function keyOf(entry: NodeSequence): string {
  return `${entry.kind} ${entry.nodeId} ${entry.seq}`;
}

/**
 * A copy of a live view that ingest's later changes do not reach: they set
 * its fields and its reports' (the arrays they hold are replaced, not
 * changed), except the tallies, which the merge takes from the store.
 */
export function copyLive(live: NodeLive): NodeLive {
  return { ...live, reports: { ...live.reports, models: [...live.reports.models] } };
}
