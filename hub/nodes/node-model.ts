// What the hub knows about a node: the registration (changes rarely) and the
// live view built from its MQTT messages (changes with every heartbeat).
import type { EssState, Mode } from "../../kernel/types.ts";

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

export interface NodeLive {
  state: "online" | "offline" | null;
  stateAt: number | null;
  bootId: string | null;
  session: number | null;
  kernelConfigHash: string | null;
  reboots: number;
  reconnects: number;
  lastSeen: number | null;
  lastHeartbeatAt: number | null;
  heartbeatSeq: number | null;
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
    reboots: 0,
    reconnects: 0,
    lastSeen: null,
    lastHeartbeatAt: null,
    heartbeatSeq: null,
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
  };
}
