// What the hub knows about a node: the registration (changes rarely) and the
// live view built from its MQTT messages (changes with every heartbeat).
import type { EssState, Mode } from "../../kernel/types.ts";
import type { AllowTables } from "../../protocol/allow-tables.ts";
import type { ReportOf } from "../../protocol/reports.ts";

export const HEALTH_STATES = ["healthy", "degraded", "unhealthy", "offline"] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

export interface HealthTransition {
  from: HealthState | null;
  to: HealthState;
  at: number;
  cause: string;
}

export interface VerdictTally {
  lastSeq: number;
  byVerdict: Record<string, number>;
  byReason: Record<string, number>;
  /** Events at or below the last seq seen (redelivery): not counted again. */
  duplicates: number;
  /** Seqs skipped over: events the hub never saw. */
  missing: number;
}

/** The position closes a node reported (the `closes` topic), counted once each by their close number. */
export interface CloseTally {
  lastSeq: number;
  count: number;
  /** Closes at or below the last number seen (redelivery): not counted again. */
  duplicates: number;
  /** Close numbers skipped over: closes the hub never saw. */
  missing: number;
}

/** A report as the hub keeps it: what the node sent, and when the hub heard it. */
export interface Reported<T> {
  report: T;
  receivedAt: number;
}

/** The latest of each report the node's strategy made (protocol/reports.ts). */
export interface NodeReports {
  portfolio: Reported<ReportOf["portfolio"]> | null;
  health: Reported<ReportOf["health"]> | null;
  /** The latest of each model, in the order first reported; at most MAX_MODELS_PER_NODE. */
  models: Reported<ReportOf["models"]>[];
  /** Reports dated at or before the latest of their series (redeliveries): not applied again. */
  duplicates: number;
}

export interface NodeLive {
  state: "online" | "offline" | null;
  stateAt: number | null;
  bootId: string | null;
  session: number | null;
  kernelConfigHash: string | null;
  /** The allow tables of its gate config, from its last birth; null: not said (an older agent, or no birth yet). */
  allowTables: AllowTables | null;
  /** How many work packages it runs at once, from its last birth; null: not said (no work goes to it). */
  workSlots: number | null;
  /** The work kinds it resumes after a restart, from its last birth; null: not said (none). */
  resumableKinds: string[] | null;
  /** The node's own `ts` of its last birth (orders births heard by different hub replicas); null: none yet. */
  birthTs: number | null;
  reboots: number;
  reconnects: number;
  lastSeen: number | null;
  lastHeartbeatAt: number | null;
  /** The node's own `ts` of the heartbeat the fields below are from: a newer one is never replaced by an older one heard on another replica. */
  heartbeatTs: number | null;
  heartbeatSeq: number | null;
  /** The lowest heartbeat seq heard since the agent last counted from 0 again: with the last, the span heartbeat gaps are counted over. */
  heartbeatSeqFirst: number | null;
  heartbeats: number;
  heartbeatSeqGaps: number;
  uptimeS: number | null;
  load: [number, number, number] | null;
  rssBytes: number | null;
  mode: Mode | null;
  connectivity: "online" | "simulation" | null;
  simulated: boolean | null;
  outboxDepth: number | null;
  kernel: Record<string, number> | null;
  /** The ESS state the node reported with its last heartbeat (null: none yet, or an older agent). */
  essState: EssState | null;
  verdicts: VerdictTally;
  closes: CloseTally;
  reports: NodeReports;
}

export interface NodeRecord {
  nodeId: string;
  registrationId: string;
  publicKey: string;
  capabilities: string[];
  arch: string;
  version: string;
  endpoint: string | null;
  passwordHash: string;
  registeredAt: number;
  credentialsAt: number;
  /** `ts` of the last accepted registration proof, or null. */
  proofTs: number | null;
  health: HealthState;
  healthSince: number;
  healthCause: string;
  live: NodeLive;
}

export function emptyLive(): NodeLive {
  return {
    state: null,
    stateAt: null,
    bootId: null,
    session: null,
    kernelConfigHash: null,
    allowTables: null,
    workSlots: null,
    resumableKinds: null,
    birthTs: null,
    reboots: 0,
    reconnects: 0,
    lastSeen: null,
    lastHeartbeatAt: null,
    heartbeatTs: null,
    heartbeatSeq: null,
    heartbeatSeqFirst: null,
    heartbeats: 0,
    heartbeatSeqGaps: 0,
    uptimeS: null,
    load: null,
    rssBytes: null,
    mode: null,
    connectivity: null,
    simulated: null,
    outboxDepth: null,
    kernel: null,
    essState: null,
    verdicts: { lastSeq: 0, byVerdict: {}, byReason: {}, duplicates: 0, missing: 0 },
    closes: { lastSeq: 0, count: 0, duplicates: 0, missing: 0 },
    reports: { portfolio: null, health: null, models: [], duplicates: 0 },
  };
}
