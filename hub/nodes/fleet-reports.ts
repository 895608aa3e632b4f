// The fleet's aggregate of what its nodes' strategies last reported
// (protocol/reports.ts), for GET /api/federation/status: the latest report of
// every registered node counts, also of a node offline now (its equity still
// exists; `oldest_ts` says how old the stalest one is).
import { ESS_STATES, SYSTEM_STATUSES, type EssState, type SystemStatus } from "../../kernel/types.ts";
import type { NodeRecord } from "./node-model.ts";

export interface FleetPortfolio {
  /** Nodes that reported a portfolio. */
  nodes: number;
  total_equity: number;
  realized_pnl_today: number;
  unrealized_pnl: number;
  total_exposure_usd: number;
  num_positions: number;
  /** The largest drawdown_pct of any node, and whose; null before any report. */
  worst_drawdown_pct: number | null;
  worst_drawdown_node: string | null;
  /** The ts of the oldest latest snapshot: how stale the sums may be. */
  oldest_ts: number | null;
}

export interface FleetHealth {
  /** Nodes that reported their health. */
  nodes: number;
  by_system_status: Record<SystemStatus, number>;
  by_ess_state: Record<EssState, number>;
}

export interface FleetModel {
  /** Nodes whose strategy reports this model. */
  nodes: number;
  total_trades: number;
  /** Over all its trades: each node's rate weighted by its trades (a plain mean while none has traded). */
  win_rate: number;
  mean_sharpe_ratio: number;
  min_sharpe_ratio: number;
  mean_profit_factor: number;
  min_profit_factor: number;
  max_days_since_training: number;
}

export interface FleetReports {
  portfolio: FleetPortfolio;
  health: FleetHealth;
  /** By model name, in name order. */
  models: Record<string, FleetModel>;
}

const zeroes = <T extends string>(keys: readonly T[]) => Object.fromEntries(keys.map((key) => [key, 0])) as Record<T, number>;

export function fleetReports(nodes: Iterable<NodeRecord>): FleetReports {
  const portfolio: FleetPortfolio = {
    nodes: 0,
    total_equity: 0,
    realized_pnl_today: 0,
    unrealized_pnl: 0,
    total_exposure_usd: 0,
    num_positions: 0,
    worst_drawdown_pct: null,
    worst_drawdown_node: null,
    oldest_ts: null,
  };
  const health: FleetHealth = { nodes: 0, by_system_status: zeroes(SYSTEM_STATUSES), by_ess_state: zeroes(ESS_STATES) };
  const byModel = new Map<string, { report: { sharpe_ratio: number; win_rate: number; profit_factor: number; total_trades: number; days_since_training: number } }[]>();

  for (const node of nodes) {
    const { portfolio: p, health: h, models } = node.live.reports;
    if (p) {
      const r = p.report;
      portfolio.nodes++;
      portfolio.total_equity += r.total_equity;
      portfolio.realized_pnl_today += r.realized_pnl_today;
      portfolio.unrealized_pnl += r.unrealized_pnl;
      portfolio.total_exposure_usd += r.total_exposure_usd;
      portfolio.num_positions += r.num_positions;
      if (portfolio.worst_drawdown_pct === null || r.drawdown_pct > portfolio.worst_drawdown_pct) {
        portfolio.worst_drawdown_pct = r.drawdown_pct;
        portfolio.worst_drawdown_node = node.nodeId;
      }
      portfolio.oldest_ts = Math.min(portfolio.oldest_ts ?? r.ts, r.ts);
    }
    if (h) {
      health.nodes++;
      health.by_system_status[h.report.system_status]++;
      health.by_ess_state[h.report.ess_state]++;
    }
    for (const m of models) byModel.set(m.report.model_name, [...(byModel.get(m.report.model_name) ?? []), m]);
  }

  const models: Record<string, FleetModel> = {};
  for (const name of [...byModel.keys()].sort()) {
    const reports = byModel.get(name)!.map((m) => m.report);
    const trades = reports.reduce((sum, r) => sum + r.total_trades, 0);
    const mean = (pick: (r: (typeof reports)[number]) => number) => reports.reduce((sum, r) => sum + pick(r), 0) / reports.length;
    Object.defineProperty(models, name, {
      enumerable: true,
      value: {
        nodes: reports.length,
        total_trades: trades,
        win_rate: trades > 0 ? reports.reduce((sum, r) => sum + r.win_rate * r.total_trades, 0) / trades : mean((r) => r.win_rate),
        mean_sharpe_ratio: mean((r) => r.sharpe_ratio),
        min_sharpe_ratio: Math.min(...reports.map((r) => r.sharpe_ratio)),
        mean_profit_factor: mean((r) => r.profit_factor),
        min_profit_factor: Math.min(...reports.map((r) => r.profit_factor)),
        max_days_since_training: Math.max(...reports.map((r) => r.days_since_training)),
      },
    });
  }
  return { portfolio, health, models };
}
