// The policies a replay's decisions would have put in force, kept the way
// the hub keeps desired policies (hub/decisions): the fleet's, and a node's
// own once a decision names it (a fleet decision reaches the fleet's and
// every node's own). It also measures how long each was frozen.
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { DecisionRecord } from "./records.ts";

export class PolicyBook {
  private fleetPolicy: KernelPolicy;
  private readonly own = new Map<string, KernelPolicy>();
  private readonly frozenMs = new Map<string, number>();
  private readonly countedTo = new Map<string, number>();

  /** `fleetPolicy`: the fleet's policy at the start (default: DEFAULT_POLICY). */
  constructor(fleetPolicy: KernelPolicy = DEFAULT_POLICY) {
    this.fleetPolicy = { ...fleetPolicy };
  }

  /** The policy in force for a target. */
  readonly policyOf = (target: string): KernelPolicy => (target === "fleet" ? this.fleetPolicy : (this.own.get(target) ?? this.fleetPolicy));

  apply(decision: DecisionRecord): void {
    const effect = decisionEffect(decision.type, decision.payload, decision.at);
    if (effect.kind !== "policy") return;
    const targets = decision.target === "fleet" ? ["fleet", ...this.own.keys()] : [decision.target];
    for (const target of targets) {
      const result = applyPolicyUpdate(this.policyOf(target), effect.update);
      if (!result.ok) continue; // the engine checked it against this same policy
      this.countFrozen(target, decision.at);
      if (target === "fleet") this.fleetPolicy = result.policy;
      else this.own.set(target, result.policy);
    }
  }

  /** Seconds each target with a policy of its own (and the fleet) was frozen, up to `now`. */
  frozenSeconds(now: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const target of ["fleet", ...[...this.own.keys()].sort()]) {
      this.countFrozen(target, now);
      const ms = this.frozenMs.get(target) ?? 0;
      if (ms > 0 || target === "fleet") out[target] = Math.round(ms / 1000);
    }
    return out;
  }

  /** Adds the time the target's policy was frozen since last counted (a policy changes only by decisions). */
  private countFrozen(target: string, now: number): void {
    const from = this.countedTo.get(target) ?? (target === "fleet" ? now : (this.countedTo.get("fleet") ?? now));
    this.countedTo.set(target, now);
    const freeze = this.policyOf(target).freeze;
    if (!freeze) return;
    const end = Math.min(freeze.until ?? Infinity, now);
    if (end > from) this.frozenMs.set(target, (this.frozenMs.get(target) ?? 0) + end - from);
  }
}
