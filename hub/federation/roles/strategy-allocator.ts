// Strategy allocator: fleet-wide model weights from each model's reports
// across the fleet over the lookback (mean Sharpe, win rate and profit
// factor, scored against their targets, the best model at 1). A model
// below any floor gets 0; one with too few reports or trades is left out
// (its weight stays as it is). New weights only when one moves at least
// min_change, or a model switches on or off (the hysteresis).
import type { ModelSample } from "../fleet-state.ts";
import { propose, type Proposal, type Role, type RoleInput } from "../role.ts";
import { figure, type Series } from "../series.ts";

interface ModelFigures {
  samples: number;
  trades: number;
  sharpe: number;
  win_rate: number;
  profit_factor: number;
}

/** A model's figures over its reports from `from` to `to` (at least one), in one pass in place (a day of a fleet's reports is thousands). */
function figuresOf(series: Series<ModelSample>, from: number, to: number): ModelFigures {
  let samples = 0;
  let trades = 0;
  let sharpe = 0;
  let winRate = 0;
  let profitFactor = 0;
  series.each(from, to, (s) => {
    samples++;
    trades = s.total_trades; // the newest's, at the end
    sharpe += s.sharpe_ratio;
    winRate += s.win_rate;
    profitFactor += s.profit_factor;
  });
  return { samples, trades, sharpe: figure(sharpe / samples), win_rate: figure(winRate / samples), profit_factor: figure(profitFactor / samples) };
}

function changedEnough(next: Record<string, number>, before: Record<string, number> | undefined, minChange: number): boolean {
  if (!before) return true;
  for (const [model, weight] of Object.entries(next)) {
    const old = before[model];
    if (old === undefined || (old === 0) !== (weight === 0) || Math.abs(old - weight) >= minChange) return true;
  }
  return false;
}

function evaluateFleet(input: RoleInput): Proposal[] {
  const rule = input.config.roles.strategy_allocator.allocation;
  const figures: Record<string, ModelFigures> = {};
  const scores: Record<string, number> = {};
  const floored: string[] = [];
  for (const [model, series] of [...input.fleet.models].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const from = input.now - rule.lookback_s * 1000;
    if (series.count(from, input.now) < rule.min_samples) continue;
    const f = figuresOf(series, from, input.now);
    if (f.trades < rule.min_trades) continue;
    figures[model] = f;
    if (f.sharpe < rule.floor.sharpe || f.win_rate < rule.floor.win_rate || f.profit_factor < rule.floor.profit_factor) {
      floored.push(model);
      scores[model] = 0;
      continue;
    }
    const w = rule.score_weights;
    const clamp = (x: number) => Math.min(1, Math.max(0, x));
    const total = w.sharpe + w.win_rate + w.profit_factor || 1;
    scores[model] = (w.sharpe * clamp(f.sharpe / rule.sharpe_target) + w.win_rate * f.win_rate + w.profit_factor * clamp(f.profit_factor / rule.profit_factor_target)) / total;
  }
  const models = Object.keys(scores);
  if (models.length === 0) return [];
  const best = Math.max(...Object.values(scores));
  const weights: Record<string, number> = {};
  for (const model of models) weights[model] = best > 0 ? figure(Math.round(scores[model]! / best / rule.step) * rule.step, 4) : 0;
  const latch = input.latch("allocation", "fleet");
  if (!changedEnough(weights, latch?.value as Record<string, number> | undefined, rule.min_change)) return [];
  const inForce = input.policyOf("fleet").model_weights ?? {};
  const lowers = models.some((m) => weights[m]! < (inForce[m] ?? 1));
  const listed = models.map((m) => `${m} ${weights[m]} (sharpe ${figures[m]!.sharpe}, win_rate ${figures[m]!.win_rate}, profit_factor ${figures[m]!.profit_factor}, ${figures[m]!.samples} reports)`);
  const floors = floored.length ? `; below a floor (sharpe ${rule.floor.sharpe}, win_rate ${rule.floor.win_rate}, profit_factor ${rule.floor.profit_factor}): ${floored.join(", ")}` : "";
  return [
    propose({
      role: "strategy_allocator",
      rule: "allocation",
      type: "STRATEGY_ALLOCATION",
      target: "fleet",
      payload: { model_weights: weights },
      direction: lowers ? "tighten" : "loosen",
      reason: `Strategy allocator sets model weights over ${rule.lookback_s} s: ${listed.join("; ")}${floors}`,
      inputs: figures as unknown as Record<string, unknown>,
      thresholds: { floor: rule.floor, min_samples: rule.min_samples, min_trades: rule.min_trades, min_change: rule.min_change },
      latch: { level: 1, since: input.now, value: weights },
    }),
  ];
}

export const strategyAllocator: Role = { name: "strategy_allocator", fleetInputs: ["model"], evaluateFleet };
