// ESS guard: per node, tighter emergency-stop thresholds (ESS_POLICY) while
// the node's ESS state stays CAUTION or worse, and SHADOW (or PAUSED) while
// it stays WARNING or worse; each undone after the node has stayed out of
// that state for the recovery time and the step has held.
import { modeAt } from "../../../kernel/policy.ts";
import { ESS_STATES } from "../../../kernel/types.ts";
import type { RoleConfigs } from "../config.ts";
import { derivedFrom } from "../derived.ts";
import type { HealthSample, NodeState } from "../fleet-state.ts";
import { propose, type LatchMove, type Proposal, type Role, type RoleInput } from "../role.ts";
import { steppedLevel } from "../stepped-rule.ts";

const essRank = (s: HealthSample) => ESS_STATES.indexOf(s.ess_state);
const sustained = (state: (typeof ESS_STATES)[number]) => [{ name: "ess_state_rank", of: essRank, thresholds: [ESS_STATES.indexOf(state)] }];
const CAUTION = sustained("CAUTION");
const WARNING = sustained("WARNING");
/** An ESS rule as a stepped rule: sustained (every sample at least the state over the lookback), no hysteresis. */
const essRule = derivedFrom((rule: RoleConfigs["ess_guard"]["thresholds"] | RoleConfigs["ess_guard"]["sustained_warning"]) => ({ ...rule, method: "min" as const, hysteresis: 0 }));
const RANKS = `(rank of ${ESS_STATES.join(" < ")})`;

function thresholds(input: RoleInput, node: NodeState): Proposal[] {
  const rule = input.config.roles.ess_guard.thresholds;
  const change = steppedLevel(node.health, input.now, essRule(rule), CAUTION, input.latch("thresholds", node.id));
  if (!change) return [];
  const tight = change.to === 1;
  return [
    propose({
      role: "ess_guard",
      rule: "thresholds",
      type: "ESS_POLICY",
      target: node.id,
      payload: tight ? rule.tight : rule.normal,
      direction: tight ? "tighten" : "loosen",
      reason: `ESS guard ${tight ? "tightens" : "restores"} ${node.id}'s ESS thresholds: ${change.why} ${RANKS}`,
      inputs: change.inputs,
      thresholds: change.thresholds,
      latch: { level: change.to, since: input.now },
    }),
  ];
}

function sustainedWarning(input: RoleInput, node: NodeState): Array<Proposal | LatchMove> {
  const rule = input.config.roles.ess_guard.sustained_warning;
  const change = steppedLevel(node.health, input.now, essRule(rule), WARNING, input.latch("sustained_warning", node.id));
  if (!change) return [];
  const latch = { level: change.to, since: input.now };
  const base = { role: "ess_guard" as const, rule: "sustained_warning", target: node.id, type: "MODE_CHANGE" as const, inputs: change.inputs, thresholds: change.thresholds, latch };
  if (change.to === 1) return [propose({ ...base, payload: { mode: rule.action }, direction: "tighten", reason: `ESS guard puts ${node.id} in ${rule.action}: ${change.why} ${RANKS}` })];
  // Resume only from the mode this rule set: a freeze or another mode set since is not this rule's to lift.
  if (modeAt(input.policyOf(node.id), input.now) !== rule.action) return [{ role: "ess_guard", rule: "sustained_warning", target: node.id, latch }];
  return [propose({ ...base, payload: { mode: rule.resume_mode }, direction: "loosen", reason: `ESS guard resumes ${node.id} in ${rule.resume_mode}: ${change.why} ${RANKS}` })];
}

export const essGuard: Role = { name: "ess_guard", nodeInputs: ["health"], evaluateNode: (input, node) => [...thresholds(input, node), ...sustainedWarning(input, node)] };
