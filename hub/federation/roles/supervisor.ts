// Supervisor (highest priority): freezes the fleet when its drawdown or the
// share of unhealthy nodes passes a limit, and lifts the freeze only when
// every cause has recovered past its hysteresis and the freeze has held its
// minimum time. Per node, a strategy reporting system_status CRITICAL puts
// the node in EMERGENCY mode, EMERGENCY freezes it; both lift the same way.
import { modeAt } from "../../../kernel/policy.ts";
import { SYSTEM_STATUSES } from "../../../kernel/types.ts";
import type { RoleConfigs } from "../config.ts";
import { derivedFrom } from "../derived.ts";
import type { FleetSample, HealthSample, NodeState } from "../fleet-state.ts";
import { propose, type Latch, type LatchMove, type Proposal, type Role, type RoleInput } from "../role.ts";
import { steppedLevel, type Metric, type StepChange } from "../stepped-rule.ts";

const FLEET_FREEZE = "fleet_freeze";

/** Each cause of a fleet freeze, as a one-step rule over the fleet's samples. */
function fleetCauses(input: RoleInput) {
  const { fleet_drawdown: dd, unhealthy_share: us } = input.config.roles.supervisor;
  return [
    {
      rule: "fleet_drawdown",
      config: { ...dd, hysteresis: dd.freeze_at_pct - dd.lift_below_pct },
      minNodes: dd.min_nodes,
      nodes: (s: FleetSample) => s.reporting,
      severity: dd.severity,
      metric: { name: "fleet_drawdown_pct", of: (s: FleetSample) => s.drawdown_pct, thresholds: [dd.freeze_at_pct] } as Metric<FleetSample>,
    },
    {
      rule: "unhealthy_share",
      config: { ...us, hysteresis: us.freeze_at_share - us.lift_below_share },
      minNodes: us.min_nodes,
      nodes: (s: FleetSample) => s.known,
      severity: us.severity,
      metric: { name: "unhealthy_share", of: (s: FleetSample) => s.unhealthy_share, thresholds: [us.freeze_at_share] } as Metric<FleetSample>,
    },
  ];
}

function evaluateFleet(input: RoleInput): Array<Proposal | LatchMove> {
  const latch = input.latch(FLEET_FREEZE, "fleet");
  const causes = new Set((latch?.value as string[] | undefined) ?? []);
  const latest = input.fleet.fleet.latest();
  const changes: Array<{ rule: string; change: StepChange; severity: string }> = [];
  for (const cause of fleetCauses(input)) {
    // Too few nodes to judge: a cause may not fire (one it already holds stays until it recovers).
    if (!causes.has(cause.rule) && (!latest || cause.nodes(latest) < cause.minNodes)) continue;
    const own: Latch | undefined = causes.has(cause.rule) ? { level: 1, since: latch!.since } : undefined;
    const change = steppedLevel(input.fleet.fleet, input.now, cause.config, [cause.metric], own);
    if (change) changes.push({ rule: cause.rule, change, severity: cause.severity });
  }
  const next = new Set(causes);
  for (const { rule, change } of changes) if (change.to === 1) next.add(rule);
  else next.delete(rule);
  const why = changes.map(({ change }) => change.why).join("; ");
  const inputs = Object.assign({}, ...changes.map(({ change }) => change.inputs));
  const thresholds = Object.assign({}, ...changes.map(({ change }) => change.thresholds));

  if (causes.size === 0 && next.size > 0) {
    const fired = changes.filter(({ change }) => change.to === 1);
    const severity = fired.some((f) => f.severity === "CRITICAL") ? "CRITICAL" : fired.some((f) => f.severity === "HIGH") ? "HIGH" : fired[0]!.severity;
    return [
      propose({
        role: "supervisor",
        rule: fired.map((f) => f.rule).join("+"),
        type: "FREEZE",
        target: "fleet",
        payload: { severity },
        direction: "tighten",
        reason: `Supervisor freezes the fleet: ${why}`,
        inputs,
        thresholds,
        latch: { level: 1, since: input.now, value: [...next].sort() },
        latchRule: FLEET_FREEZE,
      }),
    ];
  }
  if (causes.size > 0 && next.size === 0) {
    const policy = input.policyOf("fleet");
    return [
      propose({
        role: "supervisor",
        rule: [...causes].sort().join("+"),
        type: "MODE_CHANGE",
        // The base mode the freeze kept: lifting the freeze returns to it.
        target: "fleet",
        payload: { mode: policy.mode },
        direction: "loosen",
        reason: `Supervisor lifts the fleet freeze: ${why}`,
        inputs,
        thresholds,
        latch: { level: 0, since: input.now },
        latchRule: FLEET_FREEZE,
      }),
    ];
  }
  return [];
}

const STATUS_RANK = (s: HealthSample) => SYSTEM_STATUSES.indexOf(s.system_status);
// Step 1 from CRITICAL (EMERGENCY mode), step 2 from EMERGENCY (freeze); both sustained over min_samples reports.
const STATUS_METRICS: Metric<HealthSample>[] = [{ name: "system_status_rank", of: STATUS_RANK, thresholds: [SYSTEM_STATUSES.indexOf("CRITICAL"), SYSTEM_STATUSES.indexOf("EMERGENCY")] }];
const statusRule = derivedFrom((rule: RoleConfigs["supervisor"]["system_status"]) => ({ ...rule, method: "min" as const, hysteresis: 0 }));

function evaluateNode(input: RoleInput, node: NodeState): Array<Proposal | LatchMove> {
  const rule = input.config.roles.supervisor.system_status;
  const latch = input.latch("system_status", node.id);
  const change = steppedLevel(node.health, input.now, statusRule(rule), STATUS_METRICS, latch);
  if (!change) return [];
  const base = { role: "supervisor" as const, rule: "system_status", target: node.id, inputs: change.inputs, thresholds: change.thresholds, latch: { level: change.to, since: input.now } };
  const why = `${change.why} (rank of ${SYSTEM_STATUSES.join(" < ")})`;
  if (change.to === 2) return [propose({ ...base, type: "FREEZE", payload: { severity: "CRITICAL" }, direction: "tighten", reason: `Supervisor freezes ${node.id}: system_status EMERGENCY sustained, ${why}` })];
  if (change.to === 1) {
    const direction = change.from === 0 ? "tighten" : "loosen";
    return [propose({ ...base, type: "MODE_CHANGE", payload: { mode: "EMERGENCY" }, direction, reason: `Supervisor puts ${node.id} in EMERGENCY mode: system_status CRITICAL, ${why}` })];
  }
  // Back to trading only from what this rule put in force; anything else stays as whoever set it wanted.
  const mode = modeAt(input.policyOf(node.id), input.now);
  if (mode !== "EMERGENCY") return [{ role: "supervisor", rule: "system_status", target: node.id, latch: base.latch }];
  return [propose({ ...base, type: "MODE_CHANGE", payload: { mode: rule.resume_mode }, direction: "loosen", reason: `Supervisor resumes ${node.id} in ${rule.resume_mode}: ${why}` })];
}

export const supervisor: Role = { name: "supervisor", nodeInputs: ["health"], evaluateFleet, evaluateNode };
