// What a federation role is: a pure function from the fleet's observed
// state, the config and the time of the event being evaluated (plus the
// policy in force and what the role itself last decided, both inputs too) to
// proposed decisions, each with the rule that fired and the inputs and
// thresholds it fired on. The engine (engine.ts) decides which are made.
import type { KernelPolicy } from "../../kernel/policy.ts";
import type { FederationEventType } from "../../protocol/federation-events.ts";
import type { DecisionType } from "../../protocol/messages.ts";
import type { FederationConfig } from "./config.ts";
import type { FleetState, NodeState } from "./fleet-state.ts";

/** In priority order: the first wins a conflict. */
export const ROLE_NAMES = ["supervisor", "risk_officer", "ess_guard", "capital_allocator", "strategy_allocator", "researcher"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export function priorityOf(role: RoleName): number {
  return ROLE_NAMES.indexOf(role);
}

/**
 * Which way a proposal moves what it changes: `tighten` restricts trading
 * (a freeze, lower limits, a smaller profile), `loosen` gives it back,
 * `neutral` changes no limit (a research task). Opposite ways on one field
 * of one target are a conflict.
 */
export type Direction = "tighten" | "loosen" | "neutral";

/**
 * What a latched rule remembers about a target: the level it last put in
 * force (0: none) and since when. It is how a rule knows, without a clock,
 * how long what it did has held, and what hysteresis band it is in.
 */
export interface Latch {
  level: number;
  since: number;
  /** What else the rule needs to compare with next time (e.g. the weights it set). */
  value?: unknown;
}

export interface Proposal {
  role: RoleName;
  rule: string;
  type: DecisionType;
  /** A node id or "fleet". */
  target: string;
  /** The decision's payload, in the contract's field names (protocol/decision-policy.ts); `reason` included. */
  payload: Record<string, unknown>;
  direction: Direction;
  /** Why, in words: the inputs and thresholds that fired. */
  reason: string;
  inputs: Record<string, unknown>;
  thresholds: Record<string, unknown>;
  /** The latch the rule moves to if the proposal is made (or is already in force). */
  latch?: Latch;
  /** The latch's rule and target when not `rule` and `target` (e.g. one latch per model, whichever node reported it). */
  latchRule?: string;
  latchTarget?: string;
}

/** A rule moving its latch without a decision (e.g. what it put in force was changed by someone else). */
export interface LatchMove {
  role: RoleName;
  rule: string;
  target: string;
  latch: Latch;
}

export function isProposal(output: Proposal | LatchMove): output is Proposal {
  return "type" in output;
}

export interface RoleInput {
  fleet: FleetState;
  config: FederationConfig;
  /** The time of the event being evaluated (ms): the only clock a role has. */
  now: number;
  /**
   * What is new: the time of this role's previous fleet evaluation, or
   * -Infinity on a tick (the timer: everything is looked at again). Fleet
   * rules may skip what has had no input since (a model with no new report).
   */
  changedSince: number;
  /** The policy in force for a target. */
  policyOf(target: string): KernelPolicy;
  /** This role's latch for a rule and target, if it has one. */
  latch(rule: string, target: string): Latch | undefined;
}

export interface Role {
  name: RoleName;
  /** Which of a node's reports its node rules read: they run when one of these comes in. */
  nodeInputs?: ReadonlyArray<"portfolio" | "health">;
  /** Rules about one node, run when that node reports. */
  evaluateNode?(input: RoleInput, node: NodeState): Array<Proposal | LatchMove>;
  /**
   * The inputs its fleet rules read, when not every one: they then run at a
   * fleet evaluation only if one of these came in since they last ran, or on
   * a tick (the timer, which also lets their locks run out).
   */
  fleetInputs?: ReadonlyArray<FederationEventType>;
  /** Rules about the fleet, run at each fleet evaluation (engine.evaluate_every_s, and ticks). */
  evaluateFleet?(input: RoleInput): Array<Proposal | LatchMove>;
}

/** A role's whole evaluation: its fleet rules and its node rules for every node. */
export function evaluateRole(role: Role, input: RoleInput): Array<Proposal | LatchMove> {
  const proposals = role.evaluateFleet ? role.evaluateFleet(input) : [];
  if (role.evaluateNode) for (const node of input.fleet.nodes.values()) proposals.push(...role.evaluateNode(input, node));
  return proposals;
}

const MAX_REASON = 512;

/** A proposal, its reason also in the payload (so the node records it, e.g. as the freeze's reason). */
export function propose(p: Omit<Proposal, "payload"> & { payload: Record<string, unknown> }): Proposal {
  const reason = p.reason.length > MAX_REASON ? `${p.reason.slice(0, MAX_REASON - 3)}...` : p.reason;
  return { ...p, reason, payload: { ...p.payload, reason } };
}
