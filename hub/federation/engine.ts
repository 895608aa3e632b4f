// The federation engine: folds each FederationEvent into the fleet state,
// runs the roles (node rules for the node that reported, fleet rules every
// engine.evaluate_every_s of event time and on every tick), and decides which
// proposals become decisions: by role priority when roles conflict, never
// one that changes nothing in the policy in force, within each role's
// interval and hourly cap, not while an operator's OVERRIDE silences it.
// No I/O and no clock: time comes with the events, so the same stream and
// config always give the same decisions. The hub issues what comes back
// `issued` and raises the alerts; a replay prints them.
import { applyPolicyUpdate, type KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { FederationEvent } from "../../protocol/federation-events.ts";
import { canonicalJson } from "../../protocol/signing.ts";
import type { FederationConfig, RoleMode } from "./config.ts";
import { ConflictWindow, fieldsOf } from "./conflicts.ts";
import { FleetState, type NodeState } from "./fleet-state.ts";
import type { AlertEvent, ConflictRecord, DecisionRecord, EngineStep, LatchChange } from "./records.ts";
import { isProposal, priorityOf, ROLE_NAMES, type Latch, type LatchMove, type Proposal, type Role, type RoleInput, type RoleName } from "./role.ts";
import { ROLES } from "./roles/index.ts";
import { Throttle, type Refusal } from "./throttle.ts";

const HOUR_MS = 3_600_000;

/** By event type, the roles whose fleet rules read it (Role.fleetInputs). */
const FLEET_READERS = new Map<string, RoleName[]>();
const NO_ROLES: readonly RoleName[] = [];

const enabledRoles = (config: FederationConfig): RoleName[] => ROLE_NAMES.filter((name) => config.roles[name].mode !== "off");
for (const name of ROLE_NAMES) for (const type of ROLES[name].fleetInputs ?? []) FLEET_READERS.set(type, [...(FLEET_READERS.get(type) ?? []), name]);

export interface EngineOptions {
  /** The policy in force for a target ("fleet" or a node id). */
  policyOf(target: string): KernelPolicy;
  /** Raise alerts for advisory decisions too, marked so (a replay: what would have happened). */
  alertAdvisory?: boolean;
}

/** What the engine counted since it started. */
export interface EngineCounters {
  events: number;
  evaluations: number;
  decisions: Record<string, Record<string, number>>;
  conflicts: number;
  refused: Record<Refusal | "unchanged" | "lost_conflict", number>;
  /** Evaluations of a role skipped while it was at its hourly cap. */
  capped_evaluations: number;
  errors: number;
}

/**
 * Where a restarted hub's engine goes on from (hub/federation/rebuild.ts),
 * besides the events it folds in: what the hub kept of the engine.
 */
export interface EngineRestore {
  /** Every rule's latch. */
  latches: readonly LatchChange[];
  /** The role decision records (issued and advisory) kept, oldest first: throttles, conflict window, each role's last decision, the next id. */
  decisions: readonly DecisionRecord[];
  /** The conflicts of the last hour, oldest first: the conflict alert's count. */
  conflicts: readonly ConflictRecord[];
  /** The operators' OVERRIDEs of role decisions still silencing a role. */
  overrides: ReadonlyArray<{ decision: Pick<DecisionRecord, "role" | "type" | "target">; at: number }>;
  /** When the hub starts again: the watch for silence counts from then (the hub was down, not the engine unhealthy). */
  now: number;
}

export interface RoleStatus {
  mode: RoleMode;
  enabled: boolean;
  last_evaluation: number | null;
  last_decision: DecisionRecord | null;
}

export class FederationEngine {
  readonly fleet: FleetState;
  private config: FederationConfig;
  /** The roles not off, in priority order (from the config). */
  private enabled: RoleName[];
  /** Each role's latches: by rule, then by target. */
  private readonly latches = new Map<RoleName, Map<string, Map<string, Latch>>>();
  /** Each role's input, made once and brought up to date at each evaluation (one a role's evaluation reads, not keeps). */
  private readonly inputs = new Map<RoleName, RoleInput>();
  private readonly throttle: Throttle;
  private readonly conflictWindow: ConflictWindow;
  private readonly conflictTimes: number[] = [];
  private lastConflictAlert = -Infinity;
  private lastFleetEvaluation = -Infinity;
  /** Roles with fleetInputs that had one of them since their fleet rules last ran. */
  private readonly fleetInputsSeen = new Set<RoleName>();
  /** When each role's fleet rules last ran. */
  private readonly lastFleetRun = new Map<RoleName, number>();
  private lastInput: number | null = null;
  private silenceAlerted = false;
  private readonly errorAlerted = new Map<string, number>();
  private readonly roleStatus = new Map<RoleName, { last_evaluation: number | null; last_decision: DecisionRecord | null }>();
  private nextId = 1;
  readonly counters: EngineCounters = {
    events: 0,
    evaluations: 0,
    decisions: {},
    conflicts: 0,
    refused: { suppressed: 0, too_soon: 0, hourly_cap: 0, unchanged: 0, lost_conflict: 0 },
    capped_evaluations: 0,
    errors: 0,
  };

  constructor(
    config: FederationConfig,
    private readonly options: EngineOptions,
  ) {
    this.config = config;
    this.enabled = enabledRoles(config);
    this.fleet = new FleetState(config);
    this.throttle = new Throttle(config);
    this.conflictWindow = new ConflictWindow(config.engine.conflict_window_s * 1000);
    for (const name of ROLE_NAMES) {
      this.roleStatus.set(name, { last_evaluation: null, last_decision: null });
      this.latches.set(name, new Map());
      const latches = this.latches.get(name)!;
      this.inputs.set(name, { fleet: this.fleet, config, now: 0, changedSince: -Infinity, policyOf: options.policyOf, latch: (rule, target) => latches.get(rule)?.get(target) });
    }
  }

  get currentConfig(): FederationConfig {
    return this.config;
  }

  /** A new config (hot reload): thresholds and modes from the next event on; the state observed stays. */
  setConfig(config: FederationConfig): void {
    this.config = config;
    this.enabled = enabledRoles(config);
    this.throttle.setConfig(config);
    this.conflictWindow.setWindow(config.engine.conflict_window_s * 1000);
  }

  /** Each role's mode, when it last evaluated and its last decision (for the hub's status). */
  status(): Record<RoleName, RoleStatus> {
    const out = {} as Record<RoleName, RoleStatus>;
    for (const name of ROLE_NAMES) {
      const mode = this.config.roles[name].mode;
      out[name] = { mode, enabled: mode !== "off", ...this.roleStatus.get(name)! };
    }
    return out;
  }

  /**
   * An operator overrode one of a role's decisions at `at`: the role makes
   * no decision of that type to that target for engine.override_suppression_s,
   * and its rule starts again from nothing, so it decides afresh after.
   */
  noteOverride(decision: Pick<DecisionRecord, "role" | "rule" | "type" | "target">, at: number): LatchChange[] {
    this.throttle.suppress(decision.role, decision.type, decision.target, at);
    const forgotten: LatchChange[] = [];
    for (const [rule, byTarget] of this.latches.get(decision.role)!) {
      if (byTarget.delete(decision.target)) forgotten.push({ rule: `${decision.role}/${rule}`, target: decision.target, latch: null });
    }
    return forgotten;
  }

  /**
   * Folds an event into the fleet state only, as handle() does but running
   * no role: a restarted hub rebuilding its windows from the recorded events.
   * The fleet's figures are sampled at the events, every
   * engine.evaluate_every_s of event time. Not in the gaps between them, as
   * the hub's ticks did: a gap may be a time the hub was down, whose samples
   * (no node fresh) would read as a recovery.
   */
  fold(event: FederationEvent): void {
    this.fleet.apply(event);
    if (event.at - this.lastFleetEvaluation >= this.config.engine.evaluate_every_s * 1000) this.sampleAt(this.fleet.now);
  }

  /**
   * Takes up what the hub kept (before folding the events in or after, the
   * same): latches, throttles, the conflict window and counts, each role's
   * last decision and the next id. Raises and issues nothing.
   */
  restore(kept: EngineRestore): void {
    for (const { rule, target, latch } of kept.latches) {
      const [role, ...name] = rule.split("/");
      if (latch) this.setLatch(role as RoleName, name.join("/"), target, latch, null);
    }
    for (const decision of kept.decisions) {
      if (!(ROLE_NAMES as readonly string[]).includes(decision.role)) continue;
      this.throttle.made(decision.role, decision.target, decision.at);
      const effect = decisionEffect(decision.type, decision.payload, decision.at);
      this.conflictWindow.record(decision, effect.kind === "policy" ? fieldsOf(effect.update) : []);
      this.roleStatus.get(decision.role)!.last_decision = decision;
      this.nextId = Math.max(this.nextId, Number(/^fed-(\d+)$/.exec(decision.id)?.[1] ?? 0) + 1);
    }
    for (const conflict of kept.conflicts) {
      this.conflictWindow.remember(conflict);
      this.conflictTimes.push(conflict.at);
      this.alertOnConflicts(conflict.at, { decisions: [], conflicts: [], alerts: [], latches: [] }); // raised then already
    }
    for (const { decision, at } of kept.overrides) this.throttle.suppress(decision.role, decision.type, decision.target, at);
    this.lastInput = kept.now;
  }

  /** Folds one event in and evaluates; what to issue, record and raise. */
  handle(event: FederationEvent): EngineStep {
    const step: EngineStep = { decisions: [], conflicts: [], alerts: [], latches: [] };
    this.counters.events++;
    const node = this.fleet.apply(event);
    const now = this.fleet.now;
    this.watchSilence(event, now, step);

    for (const name of FLEET_READERS.get(event.type) ?? NO_ROLES) this.fleetInputsSeen.add(name);
    const outputs: Array<Proposal | LatchMove> = [];
    const fleetDue = event.type === "tick" || now - this.lastFleetEvaluation >= this.config.engine.evaluate_every_s * 1000;
    if (fleetDue) this.sampleAt(now);
    const nodeInput = node !== null && (event.type === "portfolio" || event.type === "health") ? event.type : null;
    if (!fleetDue && nodeInput === null) return step;

    for (const name of this.enabled) {
      // A role at its hourly cap can decide nothing: it is not evaluated until the hour has room again.
      if (this.throttle.capped(name, now)) {
        this.counters.capped_evaluations++;
        continue;
      }
      const role = ROLES[name];
      const fleetRuns = fleetDue && role.evaluateFleet && (!role.fleetInputs || event.type === "tick" || this.fleetInputsSeen.has(name));
      if (fleetRuns) {
        this.fleetInputsSeen.delete(name);
        this.run(role, this.input(name, now, event.type === "tick"), null, step, outputs);
        this.lastFleetRun.set(name, now);
      }
      if (nodeInput !== null && role.evaluateNode && role.nodeInputs?.includes(nodeInput)) this.run(role, this.input(name, now, event.type === "tick"), node, step, outputs);
    }
    if (outputs.length > 0) this.decideAll(outputs, now, step);
    this.alertOnConflicts(now, step);
    return step;
  }

  /** The roles' outputs of one evaluation: latches moved, proposals decided on. */
  private decideAll(outputs: Array<Proposal | LatchMove>, now: number, step: EngineStep): void {
    // Higher priority first, so within one evaluation the winner of a conflict is made first.
    const proposals: Proposal[] = [];
    for (const output of outputs) {
      if (isProposal(output)) proposals.push(output);
      else this.setLatch(output.role, output.rule, output.target, output.latch, step);
    }
    proposals.sort((a, b) => priorityOf(a.role) - priorityOf(b.role));
    for (const proposal of proposals) {
      try {
        this.decide(proposal, now, step);
      } catch (error) {
        this.unhealthy(`deciding on ${proposal.role}'s ${proposal.type} for ${proposal.target} failed: ${(error as Error).message}`, `${proposal.role}:decide`, now, step);
      }
    }
  }

  /** A role's input for an evaluation at `now` (`everything`: a tick, which looks at everything again). */
  private input(role: RoleName, now: number, everything: boolean): RoleInput {
    const input = this.inputs.get(role)!;
    input.config = this.config;
    input.now = now;
    input.changedSince = everything ? -Infinity : (this.lastFleetRun.get(role) ?? -Infinity);
    return input;
  }

  /** A fleet evaluation's figures at `at`. */
  private sampleAt(at: number): void {
    this.lastFleetEvaluation = at;
    this.fleet.sampleFleet(at, this.config.engine.freshness_s * 1000);
  }

  /** Moves a rule's latch; the move goes in `step` for the hub to keep (none while restoring). */
  private setLatch(role: RoleName, rule: string, target: string, latch: Latch, step: EngineStep | null): void {
    const byRule = this.latches.get(role)!;
    let byTarget = byRule.get(rule);
    if (!byTarget) byRule.set(rule, (byTarget = new Map()));
    const before = byTarget.get(target);
    byTarget.set(target, latch);
    if (step && canonicalJson(before ?? null) !== canonicalJson(latch)) step.latches.push({ rule: `${role}/${rule}`, target, latch });
  }

  /**
   * One role's evaluation, its fleet rules (`node` null) or its node rules,
   * its outputs added to `outputs`; one that throws makes no proposal and
   * an alert (at most one an hour per role).
   */
  private run(role: Role, input: RoleInput, node: NodeState | null, step: EngineStep, outputs: Array<Proposal | LatchMove>): void {
    this.counters.evaluations++;
    this.roleStatus.get(role.name)!.last_evaluation = input.now;
    try {
      const produced = node === null ? role.evaluateFleet!(input) : role.evaluateNode!(input, node);
      for (const output of produced) outputs.push(output);
    } catch (error) {
      this.unhealthy(`${role.name} failed to evaluate: ${(error as Error).message}`, role.name, input.now, step);
    }
  }

  private decide(proposal: Proposal, now: number, step: EngineStep): void {
    const commitLatch = () => {
      if (proposal.latch) this.setLatch(proposal.role, proposal.latchRule ?? proposal.rule, proposal.latchTarget ?? proposal.target, proposal.latch, step);
    };
    // The cheap checks first: a role held back retries at every evaluation.
    const refusal = this.throttle.refusal(proposal.role, proposal.type, proposal.target, now);
    if (refusal) {
      this.counters.refused[refusal]++;
      return;
    }
    const effect = decisionEffect(proposal.type, proposal.payload, now);
    if (effect.kind === "invalid") {
      this.unhealthy(`${proposal.role} proposed an invalid ${proposal.type}: ${effect.violations.join("; ")}`, `${proposal.role}:invalid`, now, step);
      return;
    }
    let fields: string[] = [];
    if (effect.kind === "policy") {
      const current = this.options.policyOf(proposal.target);
      const next = applyPolicyUpdate(current, effect.update);
      if (!next.ok) {
        this.unhealthy(`${proposal.role}'s ${proposal.type} does not apply to ${proposal.target}'s policy: ${next.violations.join("; ")}`, `${proposal.role}:apply`, now, step);
        return;
      }
      if (canonicalJson(next.policy) === canonicalJson(current)) {
        this.counters.refused.unchanged++;
        commitLatch(); // already in force: the rule stands where it wanted to be
        return;
      }
      fields = fieldsOf(effect.update);
    }

    const judged = this.conflictWindow.judge(proposal, fields, now);
    for (const conflict of judged.conflicts) {
      step.conflicts.push(conflict);
      this.conflictTimes.push(now);
      this.counters.conflicts++;
    }
    if (judged.lost) {
      this.counters.refused.lost_conflict++;
      return;
    }

    const mode = this.config.roles[proposal.role].mode as "active" | "advisory";
    const { latch: _l, latchRule: _r, latchTarget: _t, ...decided } = proposal;
    const decision: DecisionRecord = { id: `fed-${this.nextId++}`, at: now, ...decided, mode, issued: mode === "active" };
    step.decisions.push(decision);
    commitLatch();
    this.throttle.made(proposal.role, proposal.target, now);
    this.conflictWindow.record(decision, fields);
    this.roleStatus.get(proposal.role)!.last_decision = decision;
    const byType = (this.counters.decisions[proposal.role] ??= {});
    byType[proposal.type] = (byType[proposal.type] ?? 0) + 1;
    this.alertOnDecision(decision, step);
  }

  private alertOnDecision(decision: DecisionRecord, step: EngineStep): void {
    if (!decision.issued && !this.options.alertAdvisory) return;
    const note = decision.issued ? "" : " (advisory: not issued)";
    const frozen = decision.type === "FREEZE" || (decision.type === "MODE_CHANGE" && decision.payload.mode === "FREEZE");
    if (decision.role === "supervisor" && frozen) {
      step.alerts.push({ severity: "critical", kind: "supervisor_freeze", message: `trading frozen on ${decision.target} by the Supervisor${note}: ${decision.reason}`, at: decision.at });
    }
    if (decision.type === "CAPITAL_PROFILE" && decision.payload.profile === "MICRO") {
      step.alerts.push({ severity: "high", kind: "capital_micro", message: `capital profile of ${decision.target} downgraded to MICRO${note}: ${decision.reason}`, at: decision.at });
    }
  }

  /** engine.conflict_alert_per_hour conflicts within an hour: one medium alert, then none for an hour. */
  private alertOnConflicts(now: number, step: EngineStep): void {
    while (this.conflictTimes.length && this.conflictTimes[0]! <= now - HOUR_MS) this.conflictTimes.shift();
    if (this.conflictTimes.length < this.config.engine.conflict_alert_per_hour || now - this.lastConflictAlert < HOUR_MS) return;
    this.lastConflictAlert = now;
    step.alerts.push({ severity: "medium", kind: "role_conflicts", message: `${this.conflictTimes.length} role conflicts within an hour (alert at ${this.config.engine.conflict_alert_per_hour})`, at: now });
  }

  /** No input for engine.no_input_alert_s (as ticks tell): one low alert until input comes again. */
  private watchSilence(event: FederationEvent, now: number, step: EngineStep): void {
    if (event.type !== "tick") {
      this.lastInput = now;
      this.silenceAlerted = false;
      return;
    }
    const since = this.lastInput;
    if (since === null || this.silenceAlerted || now - since < this.config.engine.no_input_alert_s * 1000) return;
    this.silenceAlerted = true;
    step.alerts.push({ severity: "low", kind: "engine_unhealthy", message: `no federation input for ${Math.round((now - since) / 1000)} s (alert at ${this.config.engine.no_input_alert_s} s)`, at: now });
  }

  private unhealthy(message: string, key: string, now: number, step: EngineStep): void {
    this.counters.errors++;
    const last = this.errorAlerted.get(key);
    if (last !== undefined && now - last < HOUR_MS) return;
    this.errorAlerted.set(key, now);
    step.alerts.push({ severity: "low", kind: "engine_unhealthy", message, at: now });
  }
}
