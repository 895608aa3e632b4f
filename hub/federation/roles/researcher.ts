// Researcher: a research task for a model not retrained for too long or
// whose Sharpe decays against its baseline (once per model per lock); and
// the symbol universe without the symbols that hit the fleet's stop-losses
// too often (StoplossGuard) or made too little per close (LowProfitPairs)
// over the lookback, each locked out for lock_s.
import type { ModelSample } from "../fleet-state.ts";
import { propose, type Proposal, type Role, type RoleInput } from "../role.ts";
import { figure } from "../series.ts";

function locked(input: RoleInput, rule: string, key: string, lockS: number): boolean {
  const latch = input.latch(rule, key);
  return latch !== undefined && input.now - latch.since < lockS * 1000;
}

function researchTask(input: RoleInput, rule: string, model: string, node: string, taskType: string, description: string, inputs: Record<string, unknown>, thresholds: Record<string, unknown>): Proposal {
  return propose({
    role: "researcher",
    rule,
    type: "RESEARCH_TASK",
    target: node,
    payload: { task_type: taskType, description, params: taskType === "journal_stats" ? { window_minutes: 1440 } : {} },
    direction: "neutral",
    reason: `Researcher: ${description}`,
    inputs,
    thresholds,
    latch: { level: 1, since: input.now },
    latchTarget: `model:${model}`,
  });
}

const sharpeOf = (s: ModelSample) => s.sharpe_ratio;

function models(input: RoleInput): Proposal[] {
  const { stale_model: stale, performance_decay: decay } = input.config.roles.researcher;
  const out: Proposal[] = [];
  for (const [model, series] of input.fleet.models) {
    const latest = series.latest();
    if (!latest || latest.at <= input.changedSince) continue; // no new report: nothing new to judge
    if (latest.days_since_training >= stale.max_days_since_training && !locked(input, "stale_model", `model:${model}`, stale.lock_s)) {
      const description = `retrain ${model}: days_since_training ${figure(latest.days_since_training, 1)} on ${latest.node} >= ${stale.max_days_since_training}`;
      out.push(researchTask(input, "stale_model", model, latest.node, stale.task_type, description, { model, days_since_training: latest.days_since_training, node: latest.node }, { max_days_since_training: stale.max_days_since_training }));
    }
    if (locked(input, "performance_decay", `model:${model}`, decay.lock_s)) continue;
    const split = input.now - decay.lookback_s * 1000;
    // Summed in place: a day of a fleet's reports of one model is thousands.
    const recent = series.sum(split, input.now, sharpeOf);
    const baseline = series.sum(split - decay.baseline_s * 1000, split - 1, sharpeOf);
    if (recent.count < decay.min_samples || baseline.count < decay.min_samples) continue;
    const [now, before] = [recent.sum / recent.count, baseline.sum / baseline.count];
    const limit = before * (1 - decay.decay_pct / 100);
    if (!(before > 0 && now <= limit)) continue;
    const description = `${model}'s Sharpe decays: ${figure(now)} (mean of ${recent.count} over ${decay.lookback_s} s) <= ${figure(limit)} (${decay.decay_pct}% below its baseline ${figure(before)}, ${baseline.count} over ${decay.baseline_s} s before)`;
    out.push(researchTask(input, "performance_decay", model, latest.node, decay.task_type, description, { model, sharpe_recent: figure(now), sharpe_baseline: figure(before) }, { decay_pct: decay.decay_pct, min_samples: decay.min_samples }));
  }
  return out;
}

function symbolUniverse(input: RoleInput): Proposal[] {
  const rule = input.config.roles.researcher.symbol_guard;
  const latch = input.latch("symbol_guard", "fleet");
  const before = (latch?.value as Record<string, number> | undefined) ?? {};
  const locks: Record<string, number> = {};
  for (const [symbol, until] of Object.entries(before)) if (until > input.now) locks[symbol] = until;
  const why: string[] = [];
  const inputs: Record<string, unknown> = {};
  for (const [symbol, series] of [...input.fleet.closes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Locked already, or no close since the last look (a tick looks at every symbol again).
    if (symbol in locks || series.latest()!.at <= input.changedSince) continue;
    let stops = 0;
    let withPnl = 0;
    let pnl = 0;
    series.eachNewest(input.now - rule.lookback_s * 1000, input.now, (close) => {
      if (close.exit === "stop_loss") stops++;
      if (close.pnl_usd !== undefined) [withPnl, pnl] = [withPnl + 1, pnl + close.pnl_usd];
    });
    const meanPnl = withPnl ? pnl / withPnl : NaN;
    if (stops >= rule.stoploss_count) why.push(`${symbol} ${stops} stop-losses over ${rule.lookback_s} s >= ${rule.stoploss_count}`);
    else if (withPnl >= rule.min_trades && meanPnl < rule.min_profit_usd) why.push(`${symbol} mean pnl ${figure(meanPnl, 2)} over ${withPnl} closes < ${rule.min_profit_usd}`);
    else continue;
    locks[symbol] = input.now + rule.lock_s * 1000;
    inputs[symbol] = { stop_losses: stops, closes: withPnl, mean_pnl_usd: figure(meanPnl, 2) };
  }
  const same = Object.keys(locks).length === Object.keys(before).length && Object.keys(locks).every((s) => s in before);
  if (same) return [];
  const universe = rule.universe.length ? rule.universe : [...input.fleet.symbolsSeen].sort();
  const lockedNow = Object.keys(locks).sort();
  const active = lockedNow.length ? universe.filter((s) => !(s in locks)) : null;
  const released = Object.keys(before).filter((s) => !(s in locks));
  if (released.length) why.push(`lock of ${released.join(", ")} ended after ${rule.lock_s} s`);
  return [
    propose({
      role: "researcher",
      rule: "symbol_guard",
      type: "SYMBOL_UNIVERSE",
      target: "fleet",
      payload: { active_symbols: active },
      direction: why.length > released.length ? "tighten" : "loosen",
      reason: `Researcher ${active ? `trades ${active.length} symbols, locked out: ${lockedNow.join(", ")}` : "trades every symbol again"}: ${why.join("; ")}`,
      inputs,
      thresholds: { stoploss_count: rule.stoploss_count, min_trades: rule.min_trades, min_profit_usd: rule.min_profit_usd, lookback_s: rule.lookback_s, lock_s: rule.lock_s },
      latch: { level: lockedNow.length, since: input.now, value: locks },
    }),
  ];
}

export const researcher: Role = { name: "researcher", fleetInputs: ["model", "close", "verdict"], evaluateFleet: (input) => [...models(input), ...symbolUniverse(input)] };
