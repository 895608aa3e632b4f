// A replica's write of node live state when several hub replicas share the
// registry (HubStore.shared, PostgreSQL). A node's messages land on any
// replica, so what is new, what a node's health is and what its counters say
// is decided here, in the database transaction, not in one replica's memory:
// 1. the nodes' rows are read and locked (in node id order: two replicas
//    never deadlock), so writes to one node take turns across replicas;
// 2. each verdict and close number heard is recorded in node_sequences (a
//    strategy report by its series and ts); only those recorded now are new
//    (counted, observed, a report kept in the history); the others are
//    redeliveries, wherever they were first heard;
// 3. what this replica heard since its last write is merged into the stored
//    live view (live-merge.ts), never overwriting what others wrote;
// 4. health is judged from the merged view, and a transition written only
//    when it differs from the stored health, so two replicas never record
//    one transition twice, and a stale cache cannot invent one.
// The caller (fleet.ts) takes the result back into memory once committed.
import type { CloseMessage, ModelPerformanceMessage, VerdictEventMessage } from "../../protocol/messages.ts";
import type { ReportKind } from "../../protocol/reports.ts";
import { countNewClose, countNewVerdict, takeIfLatest } from "../ingest/node-messages.ts";
import type { NodeFederationEvent, NodeSequence, ReportRecord, SequenceKind, StoreTransaction } from "../store/hub-store.ts";
import { classifyHealth, type HealthRules } from "./health.ts";
import { mergeNode, type MergedNode } from "./live-merge.ts";
import type { HealthTransition, NodeLive, NodeRecord } from "./node-model.ts";

/** The federation event type of each report kind. */
export const EVENT_OF_REPORT = { portfolio: "portfolio", health: "health", models: "model" } as const satisfies Record<ReportKind, NodeFederationEvent["type"]>;

/** A verdict event, close or strategy report a replica heard, waiting for the database to say whether it is new. */
export type HeardNumber =
  | { kind: "verdict"; at: number; event: VerdictEventMessage }
  | { kind: "close"; at: number; close: CloseMessage }
  | { kind: "report"; at: number; record: ReportRecord };

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
  /** The strategy reports heard for the first time: the history keeps them. */
  newReports: ReportRecord[];
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
    for (const one of heard) entries.set(one, { nodeId: mine.nodeId, ...sequenceOf(one), at: one.at });
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
  const newReports: ReportRecord[] = [];
  const { verdicts, closes, reports } = merged.live;
  for (const heard of write.heard) {
    const fresh = isNew(heard);
    if (heard.kind === "verdict") {
      if (!fresh) verdicts.duplicates++;
      else {
        countNewVerdict(verdicts, heard.event);
        events.push({ type: "verdict", node: row.nodeId, at: heard.at, event: heard.event });
        newVerdicts.push(heard);
      }
    } else if (heard.kind === "close") {
      if (!fresh) closes.duplicates++;
      else {
        countNewClose(closes, heard.close);
        const { seq: _, ...outcome } = heard.close; // the close number only orders the wire
        events.push({ type: "close", node: row.nodeId, at: heard.at, close: outcome });
      }
    } else if (!fresh) reports.duplicates++;
    else {
      // New, but maybe older than the latest another replica heard: then the history keeps it, the latest stays.
      const { kind, report, receivedAt } = heard.record;
      takeIfLatest(reports, kind, report, receivedAt);
      newReports.push(heard.record);
      events.push({ type: EVENT_OF_REPORT[kind], node: row.nodeId, at: receivedAt, report } as NodeFederationEvent);
    }
  }
  const judged = classifyHealth(merged.live, now, rules);
  if (judged.state === row.health) {
    const health = { health: row.health, healthSince: row.healthSince, healthCause: row.healthCause };
    return { nodeId: row.nodeId, merged, health, transition: null, events, newVerdicts, newReports };
  }
  const transition: HealthTransition = { from: row.health, to: judged.state, at: now, cause: judged.cause };
  events.push({ type: "node_health", node: row.nodeId, at: now, state: judged.state });
  const health = { health: judged.state, healthSince: now, healthCause: judged.cause };
  return { nodeId: row.nodeId, merged, health, transition, events, newVerdicts, newReports };
}

/** What identifies it in node_sequences: a verdict's or close's number; a report's series and ts. */
function sequenceOf(heard: HeardNumber): { kind: SequenceKind; seq: number } {
  if (heard.kind === "verdict") return { kind: "verdict", seq: heard.event.seq };
  if (heard.kind === "close") return { kind: "close", seq: heard.close.seq };
  const { kind, report } = heard.record;
  const series = kind === "models" ? `models:${(report as ModelPerformanceMessage).model_name}` : kind;
  return { kind: `report:${series}`, seq: report.ts };
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
