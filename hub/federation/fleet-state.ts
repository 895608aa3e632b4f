// The fleet as the federation roles see it, folded from FederationEvents:
// per node its recent portfolio, system health and the hub's view of its
// health; per model its reports across the fleet; per symbol its closes;
// and the fleet's own figures sampled at each fleet evaluation. Bounded:
// every series keeps only what the longest window of the config reads.
import type { FederationEvent } from "../../protocol/federation-events.ts";
import type { EssState, SystemStatus } from "../../kernel/types.ts";
import type { FederationConfig } from "./config.ts";
import { Series } from "./series.ts";

export type NodeHealthState = "healthy" | "degraded" | "unhealthy" | "offline";

export interface PortfolioSample {
  at: number;
  equity: number;
  drawdown_pct: number;
  /** Realised loss today in % of equity (0 on a profit). */
  daily_loss_pct: number;
  realized_pnl_today: number;
}

export interface HealthSample {
  at: number;
  system_status: SystemStatus;
  ess_state: EssState;
}

export interface ModelSample {
  at: number;
  node: string;
  sharpe_ratio: number;
  win_rate: number;
  profit_factor: number;
  total_trades: number;
  days_since_training: number;
}

export interface CloseSample {
  at: number;
  node: string;
  pnl_usd: number | undefined;
  exit: string | undefined;
}

export interface FleetSample {
  at: number;
  /** Equity-weighted drawdown of the nodes with a fresh portfolio. */
  drawdown_pct: number;
  reporting: number;
  /** Share of the nodes the hub knows the health of that are unhealthy or offline. */
  unhealthy_share: number;
  known: number;
}

export interface NodeState {
  id: string;
  portfolio: Series<PortfolioSample>;
  health: Series<HealthSample>;
  nodeHealth: NodeHealthState | null;
}

/** How long series keep samples: the longest window any rule reads. */
export function retentionOf(config: FederationConfig): { nodeMs: number; modelMs: number; symbolMs: number } {
  const r = config.roles;
  const s = (...values: number[]) => Math.max(...values) * 1000;
  return {
    nodeMs: s(
      config.engine.freshness_s,
      r.supervisor.system_status.lookback_s + r.supervisor.system_status.recovery_s,
      r.risk_officer.drawdown.lookback_s + r.risk_officer.drawdown.recovery_s,
      r.capital_allocator.profile.lookback_s + r.capital_allocator.profile.recovery_s,
      r.capital_allocator.cashflow.lookback_s,
      r.ess_guard.thresholds.lookback_s + r.ess_guard.thresholds.recovery_s,
      r.ess_guard.sustained_warning.lookback_s + r.ess_guard.sustained_warning.recovery_s,
    ),
    modelMs: s(r.strategy_allocator.allocation.lookback_s, r.researcher.performance_decay.lookback_s + r.researcher.performance_decay.baseline_s),
    symbolMs: s(r.researcher.symbol_guard.lookback_s),
  };
}

export class FleetState {
  readonly nodes = new Map<string, NodeState>();
  readonly models = new Map<string, Series<ModelSample>>();
  readonly closes = new Map<string, Series<CloseSample>>();
  /** Every symbol seen in a close or a verdict (the universe when the config names none). */
  readonly symbolsSeen = new Set<string>();
  readonly fleet: Series<FleetSample>;
  /** The newest time observed. */
  now = 0;
  private retention: ReturnType<typeof retentionOf>;

  constructor(config: FederationConfig) {
    this.retention = retentionOf(config);
    const r = config.roles.supervisor;
    this.fleet = new Series(Math.max(r.fleet_drawdown.lookback_s + r.fleet_drawdown.recovery_s, r.unhealthy_share.lookback_s + r.unhealthy_share.recovery_s) * 1000);
  }

  node(id: string): NodeState {
    let node = this.nodes.get(id);
    if (!node) {
      node = { id, portfolio: new Series(this.retention.nodeMs, 5000), health: new Series(this.retention.nodeMs, 5000), nodeHealth: null };
      this.nodes.set(id, node);
    }
    return node;
  }

  /** Folds one event in; returns the node it concerns, if any. */
  apply(event: FederationEvent): NodeState | null {
    if (event.at > this.now) this.now = event.at;
    switch (event.type) {
      case "tick":
        return null;
      case "portfolio": {
        const node = this.node(event.node);
        const p = event.report;
        const loss = p.total_equity > 0 ? (Math.max(0, -p.realized_pnl_today) / p.total_equity) * 100 : 0;
        node.portfolio.push({ at: event.at, equity: p.total_equity, drawdown_pct: p.drawdown_pct, daily_loss_pct: loss, realized_pnl_today: p.realized_pnl_today });
        return node;
      }
      case "health": {
        const node = this.node(event.node);
        node.health.push({ at: event.at, system_status: event.report.system_status, ess_state: event.report.ess_state });
        return node;
      }
      case "node_health": {
        const node = this.node(event.node);
        node.nodeHealth = event.state;
        return node;
      }
      case "model": {
        const m = event.report;
        let series = this.models.get(m.model_name);
        if (!series) this.models.set(m.model_name, (series = new Series(this.retention.modelMs)));
        series.push({ at: event.at, node: event.node, sharpe_ratio: m.sharpe_ratio, win_rate: m.win_rate, profit_factor: m.profit_factor, total_trades: m.total_trades, days_since_training: m.days_since_training });
        return null;
      }
      case "close": {
        const { symbol, pnl_usd, exit } = event.close;
        this.symbolsSeen.add(symbol);
        let series = this.closes.get(symbol);
        if (!series) this.closes.set(symbol, (series = new Series(this.retention.symbolMs)));
        series.push({ at: event.at, node: event.node, pnl_usd, exit });
        return null;
      }
      case "verdict":
        if (event.event.symbol) this.symbolsSeen.add(event.event.symbol);
        return null;
    }
  }

  /** Takes the fleet's figures now (each fleet evaluation) and keeps them as a sample. */
  sampleFleet(at: number, freshnessMs: number): FleetSample {
    let weighted = 0;
    let equity = 0;
    let reporting = 0;
    let known = 0;
    let unhealthy = 0;
    for (const node of this.nodes.values()) {
      const p = node.portfolio.latest();
      if (p && at - p.at <= freshnessMs) {
        reporting++;
        // A node with no equity left still counts (its drawdown is the whole of it), weighted as one dollar.
        const weight = Math.max(p.equity, 1);
        weighted += p.drawdown_pct * weight;
        equity += weight;
      }
      if (node.nodeHealth !== null) {
        known++;
        if (node.nodeHealth === "unhealthy" || node.nodeHealth === "offline") unhealthy++;
      }
    }
    const sample = { at, drawdown_pct: equity > 0 ? weighted / equity : 0, reporting, unhealthy_share: known > 0 ? unhealthy / known : 0, known };
    this.fleet.push(sample);
    return sample;
  }
}
