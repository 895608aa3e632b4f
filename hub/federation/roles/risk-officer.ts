// Risk officer: per node, tightens leverage, exposure and position size a
// step each time the node's drawdown passes a step's threshold, and relaxes
// them a step at a time once drawdown has stayed below the step by the
// hysteresis for the recovery time and the step has held.
import type { RoleConfigs } from "../config.ts";
import { derivedFrom } from "../derived.ts";
import type { NodeState, PortfolioSample } from "../fleet-state.ts";
import { propose, type Proposal, type Role, type RoleInput } from "../role.ts";
import { steppedLevel } from "../stepped-rule.ts";

const drawdownRule = derivedFrom((rule: RoleConfigs["risk_officer"]["drawdown"]) => ({
  stepped: { ...rule, hysteresis: rule.hysteresis_pct },
  metrics: [{ name: "drawdown_pct", of: (s: PortfolioSample) => s.drawdown_pct, thresholds: rule.steps.map((s) => s.at_drawdown_pct) }],
}));

function evaluateNode(input: RoleInput, node: NodeState): Proposal[] {
  const rule = input.config.roles.risk_officer.drawdown;
  const { stepped, metrics } = drawdownRule(rule);
  const change = steppedLevel(node.portfolio, input.now, stepped, metrics, input.latch("drawdown", node.id));
  if (!change) return [];
  const { at_drawdown_pct: _at, ...limits } = change.to === 0 ? { at_drawdown_pct: 0, ...rule.relaxed } : rule.steps[change.to - 1]!;
  const tighten = change.to > change.from;
  const step = change.to === 0 ? "the relaxed limits" : `step ${change.to} of ${rule.steps.length}`;
  return [
    propose({
      role: "risk_officer",
      rule: "drawdown",
      type: "RISK_ADJUSTMENT",
      target: node.id,
      payload: limits,
      direction: tighten ? "tighten" : "loosen",
      reason: `Risk officer ${tighten ? "tightens" : "relaxes"} ${node.id} to ${step} (max_leverage ${limits.max_leverage}, max_exposure_pct ${limits.max_exposure_pct}, max_position_size_usd ${limits.max_position_size_usd}): ${change.why}`,
      inputs: change.inputs,
      thresholds: change.thresholds,
      latch: { level: change.to, since: input.now },
    }),
  ];
}

export const riskOfficer: Role = { name: "risk_officer", nodeInputs: ["portfolio"], evaluateNode };
