// What each agent message kind changes in the fleet view: one small function
// per kind. Each gets a message already validated against its schema.
import type { BirthMessage, CloseMessage, HeartbeatMessage, ModelPerformanceMessage, StateMessage, VerdictEventMessage } from "../../protocol/messages.ts";
import { MAX_MODELS_PER_NODE, type ReportKind, type ReportOf } from "../../protocol/reports.ts";
import type { CloseTally, NodeRecord, NodeReports, Reported, VerdictTally } from "../nodes/node-model.ts";

export function applyBirth(node: NodeRecord, birth: BirthMessage, now: number): void {
  const live = node.live;
  if (live.bootId !== null && live.bootId !== birth.bootId) live.reboots++;
  else if (live.session !== null && birth.session > live.session) live.reconnects++;
  live.bootId = birth.bootId;
  live.session = birth.session;
  live.kernelConfigHash = birth.kernel_config_hash;
  live.allowTables = birth.allowed_models ?? null;
  live.workSlots = birth.work_slots ?? null;
  live.resumableKinds = birth.resumable_kinds ?? null;
  live.birthTs = birth.ts;
  node.version = birth.version;
  node.arch = birth.arch;
  node.capabilities = birth.capabilities;
  live.lastSeen = now;
}

/** A retained state is as old as its own ts says; a live one is as of now. */
export function applyState(node: NodeRecord, state: StateMessage, now: number, retained: boolean): void {
  const at = retained ? Math.min(state.ts, now) : now;
  if (node.live.stateAt !== null && at < node.live.stateAt) return; // older than what the hub knows
  node.live.state = state.state;
  node.live.stateAt = at;
  if (!retained) node.live.lastSeen = now;
}

export function applyHeartbeat(node: NodeRecord, heartbeat: HeartbeatMessage, now: number): void {
  const live = node.live;
  // A seq below the last one means the agent restarted and counts from 0 again.
  if (live.heartbeatSeq !== null && heartbeat.seq > live.heartbeatSeq + 1) {
    live.heartbeatSeqGaps += heartbeat.seq - live.heartbeatSeq - 1;
  }
  if (live.heartbeatSeq === null || heartbeat.seq < live.heartbeatSeq) live.heartbeatSeqFirst = heartbeat.seq;
  live.heartbeatSeq = heartbeat.seq;
  live.heartbeats++;
  live.lastHeartbeatAt = now;
  live.heartbeatTs = heartbeat.ts;
  live.lastSeen = now;
  live.state = "online"; // a heartbeat is proof of life, whatever an older retained state said
  live.stateAt = now;
  live.uptimeS = heartbeat.uptime_s;
  live.load = heartbeat.load;
  live.rssBytes = heartbeat.rss_bytes;
  live.mode = heartbeat.mode;
  live.connectivity = heartbeat.connectivity;
  live.simulated = heartbeat.simulated;
  live.outboxDepth = heartbeat.outbox_depth;
  live.kernel = heartbeat.kernel;
  live.essState = heartbeat.ess_state ?? null;
}

/**
 * Distinct reasons counted per node. The kernel has a few dozen; a node
 * sending made-up ones must not grow the hub's memory without bound.
 */
export const MAX_DISTINCT_REASONS = 100;
export const OTHER_REASONS = "OTHER";

/** Counts a verdict event once: redeliveries (seq at or below the last) are counted as duplicates only. */
export function applyVerdict(node: NodeRecord, event: VerdictEventMessage, now: number): "new" | "duplicate" {
  const tally = node.live.verdicts;
  node.live.lastSeen = now;
  if (event.seq <= tally.lastSeq) {
    tally.duplicates++;
    return "duplicate";
  }
  countNewVerdict(tally, event);
  return "new";
}

/**
 * Counts a verdict event heard for the first time: one past the last seq
 * opens a gap for those skipped; one below it (with several hub replicas,
 * where the database says it is new: hub/nodes/ordered-write.ts) fills one.
 */
export function countNewVerdict(tally: VerdictTally, event: VerdictEventMessage): void {
  if (event.seq > tally.lastSeq) {
    tally.missing += event.seq - tally.lastSeq - 1;
    tally.lastSeq = event.seq;
  } else {
    tally.missing = Math.max(0, tally.missing - 1);
  }
  tally.byVerdict[event.verdict.verdict] = (tally.byVerdict[event.verdict.verdict] ?? 0) + 1;
  for (const reason of event.verdict.reasons) countReason(tally.byReason, reason);
}

/** Counts a position close once, by its close number, as verdicts are counted by seq. */
export function applyClose(node: NodeRecord, close: CloseMessage, now: number): "new" | "duplicate" {
  const tally = node.live.closes;
  node.live.lastSeen = now;
  if (close.seq <= tally.lastSeq) {
    tally.duplicates++;
    return "duplicate";
  }
  countNewClose(tally, close);
  return "new";
}

/** Counts a close heard for the first time, as countNewVerdict a verdict. */
export function countNewClose(tally: CloseTally, close: CloseMessage): void {
  if (close.seq > tally.lastSeq) {
    // An agent upgraded to the closes topic starts after the closes it had journaled before: no gap.
    if (tally.lastSeq > 0) tally.missing += close.seq - tally.lastSeq - 1;
    tally.lastSeq = close.seq;
  } else {
    tally.missing = Math.max(0, tally.missing - 1);
  }
  tally.count++;
}

/**
 * The tally is a plain object (it goes to the registry as JSON and comes back
 * as one), so only its own properties count: a reason named `constructor` or
 * `toString` must not read Object.prototype's member (and pass the cap as
 * "already known"), nor `__proto__` set the object's prototype.
 */
function countReason(byReason: Record<string, number>, reason: string): void {
  const key = Object.hasOwn(byReason, reason) || Object.keys(byReason).length < MAX_DISTINCT_REASONS ? reason : OTHER_REASONS;
  const count = Object.hasOwn(byReason, key) ? byReason[key]! : 0;
  Object.defineProperty(byReason, key, { value: count + 1, enumerable: true, writable: true, configurable: true });
}

/**
 * Takes a strategy report as the latest of its series (its kind; for a model
 * report, its model). The agent sends each series in time order, so one
 * dated at or before the latest is a redelivery: counted as a duplicate, not
 * applied. A model past the MAX_MODELS_PER_NODE the node reports already is
 * refused, so made-up names cannot grow the hub's memory.
 */
export function applyReport<K extends ReportKind>(node: NodeRecord, kind: K, report: ReportOf[K], now: number): "new" | "duplicate" | "too many models" {
  node.live.lastSeen = now;
  const reports = node.live.reports;
  if (isModelRefused(reports, kind, report)) return "too many models";
  if (takeIfLatest(reports, kind, report, now)) return "new";
  reports.duplicates++;
  return "duplicate";
}

/** Whether a report is of a model past the MAX_MODELS_PER_NODE the node reports already. */
export function isModelRefused<K extends ReportKind>(reports: NodeReports, kind: K, report: ReportOf[K]): boolean {
  if (kind !== "models") return false;
  const name = (report as ModelPerformanceMessage).model_name;
  return reports.models.length >= MAX_MODELS_PER_NODE && !reports.models.some((m) => m.report.model_name === name);
}

/** Makes a report the latest of its series if it is dated after the one there (or is the first); says whether it did. */
export function takeIfLatest<K extends ReportKind>(reports: NodeReports, kind: K, report: ReportOf[K], receivedAt: number): boolean {
  if (kind !== "models") {
    const one = kind as "portfolio" | "health";
    if (!isNewer(reports[one], report)) return false;
    reports[one] = { report, receivedAt } as Reported<never>;
    return true;
  }
  const model = report as ModelPerformanceMessage;
  const at = reports.models.findIndex((m) => m.report.model_name === model.model_name);
  if (at < 0) {
    if (reports.models.length >= MAX_MODELS_PER_NODE) return false;
    reports.models.push({ report: model, receivedAt });
    return true;
  }
  if (!isNewer(reports.models[at], model)) return false;
  reports.models[at] = { report: model, receivedAt };
  return true;
}

function isNewer(latest: Reported<{ ts: number }> | null | undefined, report: { ts: number }): boolean {
  return !latest || report.ts > latest.report.ts;
}
