// Merging one hub replica's view of a node into the one stored (several
// replicas on one PostgreSQL, docs/hub.md "Several hubs"). A node's messages
// land on any replica, so no replica's memory holds the whole node: each
// write reads the stored row under its lock, merges what this replica heard
// since its last write into it, and writes the result (hub/nodes/
// ordered-write.ts). Pure: the same function rebases what a replica heard
// during the write onto what it wrote.
//
// `baseline` is the view this replica last wrote or read back: what it heard
// since is `mine` minus `baseline`. The rules:
// - latest-value fields go by the node's own clock: the heartbeat's fields
//   from the newest heartbeat by its `ts`, the birth's by the birth's `ts`
//   (then session), the state by `stateAt`, each report series by its `ts`;
// - counters add this replica's increments, never overwrite;
// - the verdict and close tallies are the stored ones: they are counted in
//   the database (node_sequences), not in a replica's memory.
import { MAX_MODELS_PER_NODE } from "../../protocol/reports.ts";
import type { NodeLive, NodeRecord, NodeReports, Reported } from "./node-model.ts";

/** What a merge decides of a node: its live view, and what a birth changes in its row. */
export type MergedNode = Pick<NodeRecord, "live" | "version" | "arch" | "capabilities">;

export function mergeNode(stored: MergedNode, mine: MergedNode, baseline: NodeLive): MergedNode {
  const birthFromMine = isNewerBirth(mine.live, stored.live);
  const fromBirth = birthFromMine ? mine : stored;
  return { live: mergeLive(stored.live, mine.live, baseline), version: fromBirth.version, arch: fromBirth.arch, capabilities: fromBirth.capabilities };
}

export function mergeLive(stored: NodeLive, mine: NodeLive, baseline: NodeLive): NodeLive {
  const heartbeat = isNewer(mine.heartbeatTs, stored.heartbeatTs) ? mine : stored;
  const birth = isNewerBirth(mine, stored) ? mine : stored;
  const state = isNewer(mine.stateAt, stored.stateAt) ? mine : stored;
  const added = (pick: (live: NodeLive) => number) => pick(stored) + pick(mine) - pick(baseline);
  return {
    state: state.state,
    stateAt: state.stateAt,
    bootId: birth.bootId,
    session: birth.session,
    kernelConfigHash: birth.kernelConfigHash,
    allowTables: birth.allowTables,
    workSlots: birth.workSlots,
    resumableKinds: birth.resumableKinds,
    birthTs: birth.birthTs,
    reboots: added((live) => live.reboots),
    reconnects: added((live) => live.reconnects),
    lastSeen: latest(stored.lastSeen, mine.lastSeen),
    lastHeartbeatAt: heartbeat.lastHeartbeatAt,
    heartbeatTs: heartbeat.heartbeatTs,
    heartbeatSeq: heartbeat.heartbeatSeq,
    heartbeatSeqFirst: sameRun(stored, heartbeat) ? lowest(stored.heartbeatSeqFirst, mine.heartbeatSeqFirst) : heartbeat.heartbeatSeqFirst,
    heartbeats: added((live) => live.heartbeats),
    heartbeatSeqGaps: Math.max(0, stored.heartbeatSeqGaps + heartbeatGapsAdded(stored, mine, baseline, heartbeat)),
    uptimeS: heartbeat.uptimeS,
    load: heartbeat.load,
    rssBytes: heartbeat.rssBytes,
    mode: heartbeat.mode,
    connectivity: heartbeat.connectivity,
    simulated: heartbeat.simulated,
    outboxDepth: heartbeat.outboxDepth,
    kernel: heartbeat.kernel,
    essState: heartbeat.essState,
    verdicts: stored.verdicts,
    closes: stored.closes,
    reports: mergeReports(stored.reports, mine.reports, baseline.reports),
  };
}

/** The counters a replica adds its increments to (besides the reports' duplicates). */
const COUNTERS = ["reboots", "reconnects", "heartbeats", "heartbeatSeqGaps"] as const satisfies readonly (keyof NodeLive)[];

/**
 * A baseline with a failed write's increments (`mine` over `baseline`) taken
 * off its counters: the next write, which counts from this baseline, carries
 * them. Works whether or not a later write was taken meanwhile (then
 * `current` is that write's view, and it is not changed: a copy is returned).
 */
export function withoutIncrements(current: NodeLive, mine: NodeLive, baseline: NodeLive): NodeLive {
  const carried: NodeLive = { ...current, reports: { ...current.reports, duplicates: current.reports.duplicates - (mine.reports.duplicates - baseline.reports.duplicates) } };
  for (const counter of COUNTERS) carried[counter] = current[counter] - (mine[counter] - baseline[counter]);
  return carried;
}

/**
 * The heartbeat seqs skipped, counted over the span of seqs heard (lowest to
 * newest) rather than by this replica: the heartbeats between two of its own
 * may have gone to another replica. Gaps are the span's length minus the
 * heartbeats heard; a write adds what it changes of that, which may be
 * negative (it fills a gap another replica's write counted). Writes are
 * serialised by the row lock, so the sum is exact whichever replica heard
 * what. When the newest seq went back (the agent restarted and counts from 0
 * again), this replica's own count stands.
 */
function heartbeatGapsAdded(stored: NodeLive, mine: NodeLive, baseline: NodeLive, newest: NodeLive): number {
  const heard = mine.heartbeats - baseline.heartbeats;
  if (heard === 0) return 0;
  if (!sameRun(stored, newest) || newest.heartbeatSeq === null || mine.heartbeatSeqFirst === null) return mine.heartbeatSeqGaps - baseline.heartbeatSeqGaps;
  const first = lowest(stored.heartbeatSeqFirst, mine.heartbeatSeqFirst)!;
  // Nothing stored yet: an empty span (last = first - 1).
  const storedFirst = stored.heartbeatSeqFirst ?? first;
  const storedSpan = stored.heartbeatSeq === null ? 0 : stored.heartbeatSeq - storedFirst + 1;
  return newest.heartbeatSeq - first + 1 - storedSpan - heard;
}

/** Whether the newest heartbeat continues the stored one's count (the agent did not restart in between). */
function sameRun(stored: NodeLive, newest: NodeLive): boolean {
  return stored.heartbeatSeq === null || (newest.heartbeatSeq !== null && newest.heartbeatSeq >= stored.heartbeatSeq);
}

function lowest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** The latest of each series by its report's `ts` (the stored one on a tie); duplicates add up. */
function mergeReports(stored: NodeReports, mine: NodeReports, baseline: NodeReports): NodeReports {
  const models = [...stored.models];
  for (const model of mine.models) {
    const at = models.findIndex((m) => m.report.model_name === model.report.model_name);
    if (at >= 0) models[at] = newerReport(models[at]!, model);
    else if (models.length < MAX_MODELS_PER_NODE) models.push(model);
  }
  return {
    portfolio: newerReport(stored.portfolio, mine.portfolio),
    health: newerReport(stored.health, mine.health),
    models,
    duplicates: stored.duplicates + mine.duplicates - baseline.duplicates,
  };
}

function newerReport<R extends Reported<{ ts: number }> | null>(stored: R, mine: R): R {
  return mine !== null && (stored === null || mine.report.ts > stored.report.ts) ? mine : stored;
}

/** Whether `mine` is a later birth than `stored`: by the birth's `ts`, then its session. */
function isNewerBirth(mine: NodeLive, stored: NodeLive): boolean {
  if (mine.birthTs === null) return false;
  if (stored.birthTs === null || mine.birthTs !== stored.birthTs) return isNewer(mine.birthTs, stored.birthTs);
  return (mine.session ?? 0) > (stored.session ?? 0);
}

/** A time later than another; nothing is later than a known time. */
function isNewer(mine: number | null, stored: number | null): boolean {
  return mine !== null && (stored === null || mine > stored);
}

function latest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
