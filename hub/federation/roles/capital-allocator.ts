// Capital allocator: per node, steps the capital profile down toward MICRO
// as drawdown or the day's realised loss passes each step, and back up one
// step at a time after a sustained recovery; and locks part of the profit
// (CASHFLOW) once the day's realised PnL stays above a floor.
import type { RoleConfigs } from "../config.ts";
import { derivedFrom } from "../derived.ts";
import type { NodeState, PortfolioSample } from "../fleet-state.ts";
import { propose, type Proposal, type Role, type RoleInput } from "../role.ts";
import { figure } from "../series.ts";
import { steppedLevel } from "../stepped-rule.ts";

const profileRule = derivedFrom((rule: RoleConfigs["capital_allocator"]["profile"]) => ({
  stepped: { ...rule, hysteresis: rule.hysteresis_pct },
  metrics: [
    { name: "drawdown_pct", of: (s: PortfolioSample) => s.drawdown_pct, thresholds: rule.steps.map((s) => s.at_drawdown_pct) },
    { name: "daily_loss_pct", of: (s: PortfolioSample) => s.daily_loss_pct, thresholds: rule.steps.map((s) => s.at_daily_loss_pct), hysteresis: rule.loss_hysteresis_pct },
  ],
}));

function profile(input: RoleInput, node: NodeState): Proposal[] {
  const rule = input.config.roles.capital_allocator.profile;
  const { stepped, metrics } = profileRule(rule);
  const change = steppedLevel(node.portfolio, input.now, stepped, metrics, input.latch("profile", node.id));
  if (!change) return [];
  const to = change.to === 0 ? rule.base : rule.steps[change.to - 1]!.profile;
  const down = change.to > change.from;
  return [
    propose({
      role: "capital_allocator",
      rule: "profile",
      type: "CAPITAL_PROFILE",
      target: node.id,
      payload: { profile: to },
      direction: down ? "tighten" : "loosen",
      reason: `Capital allocator ${down ? "downgrades" : "upgrades"} ${node.id} to ${to}: ${change.why}`,
      inputs: change.inputs,
      thresholds: change.thresholds,
      latch: { level: change.to, since: input.now },
    }),
  ];
}

const realizedPnl = (s: PortfolioSample) => s.realized_pnl_today;

function cashflow(input: RoleInput, node: NodeState): Proposal[] {
  const rule = input.config.roles.capital_allocator.cashflow;
  if (input.latch("cashflow", node.id)) return [];
  const from = input.now - rule.lookback_s * 1000;
  const samples = node.portfolio.count(from, input.now);
  if (samples < rule.min_samples) return [];
  const pnl = node.portfolio.aggregate(from, input.now, realizedPnl, rule.method);
  if (!(pnl > rule.min_profit_usd)) return [];
  const { profit_lock_pct, reinvest_pct, reserve_buffer_pct } = rule;
  return [
    propose({
      role: "capital_allocator",
      rule: "cashflow",
      type: "CASHFLOW",
      target: node.id,
      payload: { profit_lock_pct, reinvest_pct, reserve_buffer_pct },
      direction: "tighten",
      reason: `Capital allocator locks ${profit_lock_pct}% of ${node.id}'s profit: realized_pnl_today ${figure(pnl, 2)} (${rule.method} of ${samples} samples over ${rule.lookback_s} s) > ${rule.min_profit_usd}`,
      inputs: { realized_pnl_today: figure(pnl, 2), samples },
      thresholds: { min_profit_usd: rule.min_profit_usd },
      latch: { level: 1, since: input.now },
    }),
  ];
}

export const capitalAllocator: Role = { name: "capital_allocator", nodeInputs: ["portfolio"], evaluateNode: (input, node) => [...profile(input, node), ...cashflow(input, node)] };
