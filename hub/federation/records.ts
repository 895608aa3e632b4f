// What the engine returns: decisions (issued, or recorded in advisory
// mode), conflicts between roles, and alerts.
import type { RoleMode } from "./config.ts";
import type { Latch, Proposal } from "./role.ts";

export interface DecisionRecord extends Omit<Proposal, "latch" | "latchRule"> {
  /** The engine's own numbering (fed-1, fed-2, ...): the same stream gives the same ids. */
  id: string;
  at: number;
  mode: Exclude<RoleMode, "off">;
  /** To be signed and delivered (the role is active); false: recorded only (advisory). */
  issued: boolean;
}

/** A role's decision as the hub keeps it: once issued, the hub's decision id, or why issuing failed. */
export interface KeptDecision extends DecisionRecord {
  decision_id?: string;
  issue_error?: string;
}

/** Where a rule now stands for a target; latch null: it starts again from nothing (an operator's OVERRIDE). */
export interface LatchChange {
  /** "role/rule", the engine's key. */
  rule: string;
  target: string;
  latch: Latch | null;
}

/** One side of a conflict: which role wanted what. */
export interface ConflictSide extends Pick<Proposal, "role" | "rule" | "type" | "target" | "payload" | "direction"> {
  at: number;
  /** The decision's id when it was made (the winner made earlier, or now). */
  id?: string;
}

export interface ConflictRecord {
  at: number;
  /** The policy fields both sides change. */
  fields: string[];
  winner: ConflictSide;
  loser: ConflictSide;
}

export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** The shape of hub/alerts.ts raise(). */
export interface AlertEvent {
  severity: AlertSeverity;
  kind: "supervisor_freeze" | "capital_micro" | "role_conflicts" | "engine_unhealthy";
  message: string;
  at: number;
}

export interface EngineStep {
  decisions: DecisionRecord[];
  conflicts: ConflictRecord[];
  alerts: AlertEvent[];
  /** The latches that moved, in order (the hub keeps them, so a restart goes on where the rules stood). */
  latches: LatchChange[];
}
