// The strategy a simulated agent pretends to run (fleet-sim.ts), so the
// federation roles have something to watch out of the box: an account whose
// equity walks at random and now and then falls into a drawdown for a while,
// system health that follows the drawdown, a few models whose performance
// drifts and worsens in a drawdown, and position closes with their profit or
// loss and how they ended. Everything comes from one seeded generator and the
// times it is given, so the same seed and times give the same reports.
import { type CloseEvent, type EssState, type ExitKind, type Intent, type SystemStatus } from "../kernel/types.ts";
import type { ModelPerformanceMessage, PortfolioMessage, SystemHealthMessage } from "../protocol/messages.ts";
import { seededRandom } from "../lib/seeded-random.ts";

/** What the strategy reports after one step, through the agent's local API. */
export interface StrategyStep {
  portfolio: PortfolioMessage;
  /** When its state changed, and every HEALTH_EVERY steps. */
  health: SystemHealthMessage | null;
  /** Every MODELS_EVERY steps, one report per model. */
  models: ModelPerformanceMessage[];
  closes: CloseEvent[];
}

export const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
/** Each model with the market regime it trades (what the kernel's MODEL_REGIME_MISMATCH gate checks). */
export const MODELS: [string, Intent["regime"]][] = [["NHiTS", "TREND"], ["XGBoost", "RANGE"], ["XGBoost", "HIGH_VOL"], ["PatchTST", "LOW_VOL"]];

const HEALTH_EVERY = 6;
const MODELS_EVERY = 12;
/** Per step: a drawdown starts about once in 1,500 steps (two hours at a step every 5 s; a 5-node fleet sees one every 25 minutes). */
const DRAWDOWN_CHANCE = 1 / 1500;
/** Per step with an open position: a close about every 7 steps. */
const CLOSE_CHANCE = 0.15;
const STEP_VOLATILITY = 0.0008;
const STEP_DRIFT = 0.00005;
/** Outside a drawdown episode, the share of the distance to the peak won back per step (recovery over minutes). */
const RECOVERY = 0.01;

/** The ESS state a drawdown (in %) puts a node in; the thresholds a fleet would typically set. */
function essOf(drawdownPct: number): EssState {
  return drawdownPct > 10 ? "CRITICAL" : drawdownPct > 6 ? "WARNING" : drawdownPct > 3 ? "CAUTION" : "NOMINAL";
}

function systemStatusOf(drawdownPct: number): SystemStatus {
  return drawdownPct >= 15 ? "EMERGENCY" : drawdownPct >= 10 ? "CRITICAL" : drawdownPct >= 5 ? "DEGRADED" : drawdownPct >= 1 ? "HEALTHY" : "OPTIMAL";
}

interface ModelState {
  name: string;
  sharpe: number;
  winRate: number;
  profitFactor: number;
  trades: number;
  trainedAt: number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

export class SimulatedStrategy {
  readonly random: () => number;
  private equity: number;
  private peak: number;
  private maxDrawdownPct = 0;
  private positions = 0;
  private realizedToday = 0;
  private tradesToday = 0;
  private winsToday = 0;
  private day = -1;
  private readonly returns: number[] = [];
  /** The drawdown under way: steps left and the drift that takes equity down. */
  private drawdown: { stepsLeft: number; drift: number } | null = null;
  private readonly models: ModelState[];
  private steps = 0;
  private lastHealth: string | null = null;
  private lastTs = 0;

  constructor(seed: number, startedAt: number) {
    this.random = seededRandom(seed);
    this.equity = round(5_000 + this.random() * 15_000, 2);
    this.peak = this.equity;
    const names = [...new Set(MODELS.map(([name]) => name))];
    this.models = names
      .filter((_, i) => i === 0 || this.random() < 0.7)
      .map((name) => ({
        name,
        sharpe: 0.5 + this.random() * 1.5,
        winRate: 0.45 + this.random() * 0.15,
        profitFactor: 1 + this.random(),
        trades: Math.floor(this.random() * 200),
        trainedAt: startedAt - this.random() * 20 * 86_400_000,
      }));
  }

  /** A standard normal number (Box-Muller). */
  private normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.random())) * Math.cos(2 * Math.PI * this.random());
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** One step of the strategy at `now`: the account moves, positions open and close, and it reports. */
  step(now: number): StrategyStep {
    const ts = (this.lastTs = Math.max(now, this.lastTs + 1)); // reports of a series need rising ts
    this.steps++;
    const day = Math.floor(ts / 86_400_000);
    if (day !== this.day) [this.day, this.realizedToday, this.tradesToday, this.winsToday] = [day, 0, 0, 0];

    if (!this.drawdown && this.random() < DRAWDOWN_CHANCE) {
      const depth = 0.03 + this.random() * 0.12; // 3% to 15% below where it starts
      const stepsLeft = 30 + Math.floor(this.random() * 90);
      this.drawdown = { stepsLeft, drift: Math.log(1 - depth) / stepsLeft };
    }
    const drift = this.drawdown?.drift ?? STEP_DRIFT + RECOVERY * Math.log(this.peak / this.equity);
    if (this.drawdown && --this.drawdown.stepsLeft <= 0) this.drawdown = null;
    const ret = drift + STEP_VOLATILITY * this.normal();
    this.equity = round(this.equity * Math.exp(ret), 2);
    this.peak = Math.max(this.peak, this.equity);
    const drawdownPct = round(((this.peak - this.equity) / this.peak) * 100, 3);
    this.maxDrawdownPct = Math.max(this.maxDrawdownPct, drawdownPct);
    this.returns.push(ret);
    if (this.returns.length > 100) this.returns.shift();

    const closes = this.closes(ts, ret);
    if (this.random() < 0.2) this.positions = clamp(this.positions + (this.random() < 0.5 ? -1 : 1), 0, 4);
    const exposure = round(this.positions * this.equity * (0.1 + this.random() * 0.2), 2);

    const portfolio: PortfolioMessage = {
      total_equity: this.equity,
      drawdown_pct: drawdownPct,
      max_drawdown_pct: round(this.maxDrawdownPct, 3),
      realized_pnl_today: round(this.realizedToday, 2),
      unrealized_pnl: round(exposure * 0.01 * this.normal(), 2),
      num_positions: this.positions,
      total_exposure_usd: exposure,
      win_rate_today: this.tradesToday ? round(this.winsToday / this.tradesToday, 4) : 0,
      sharpe_ratio_7d: round(this.sharpe(), 3),
      ts,
    };
    return { portfolio, health: this.health(drawdownPct, ts), models: this.modelReports(drawdownPct, ts), closes };
  }

  /** Positions closed this step: a loss mostly at its stop, a gain mostly at its target; worse in a drawdown. */
  private closes(ts: number, ret: number): CloseEvent[] {
    if (this.positions === 0 || this.random() >= CLOSE_CHANCE) return [];
    this.positions--;
    const pnl = round(this.equity * (0.002 * this.normal() + ret * 5 + (this.drawdown ? -0.002 : 0.0005)), 2);
    const deep = (this.peak - this.equity) / this.peak > 0.08;
    const exit: ExitKind =
      pnl < 0 ? (deep && this.random() < 0.1 ? "liquidation" : this.random() < 0.85 ? "stop_loss" : "manual") : this.random() < 0.85 ? "take_profit" : "manual";
    this.realizedToday += pnl;
    this.tradesToday++;
    if (pnl > 0) this.winsToday++;
    return [{ type: "close", symbol: this.pick(SYMBOLS), ts, pnl_usd: pnl, exit }];
  }

  /** Sharpe of the recent step returns, scaled to about a week of steps. */
  private sharpe(): number {
    if (this.returns.length < 2) return 0;
    const mean = this.returns.reduce((a, b) => a + b, 0) / this.returns.length;
    const sd = Math.sqrt(this.returns.reduce((a, b) => a + (b - mean) ** 2, 0) / (this.returns.length - 1));
    return sd === 0 ? 0 : clamp((mean / sd) * Math.sqrt(this.returns.length), -5, 5);
  }

  private health(drawdownPct: number, ts: number): SystemHealthMessage | null {
    const health: SystemHealthMessage = { system_status: systemStatusOf(drawdownPct), ess_state: essOf(drawdownPct), ts };
    const key = `${health.system_status}/${health.ess_state}`;
    if (key === this.lastHealth && this.steps % HEALTH_EVERY !== 0) return null;
    this.lastHealth = key;
    return health;
  }

  private modelReports(drawdownPct: number, ts: number): ModelPerformanceMessage[] {
    if (this.steps % MODELS_EVERY !== 1) return [];
    return this.models.map((model) => {
      // A drawdown drags every model down; otherwise they drift back toward where they were.
      const pull = drawdownPct > 3 ? -0.05 * (drawdownPct / 3) : 0.02;
      model.sharpe = clamp(model.sharpe + pull + 0.05 * this.normal(), -2, 3);
      model.winRate = clamp(model.winRate + pull / 10 + 0.005 * this.normal(), 0.2, 0.8);
      model.profitFactor = clamp(model.profitFactor + pull / 2 + 0.03 * this.normal(), 0.2, 3);
      model.trades += Math.floor(this.random() * 4);
      if (this.random() < 0.01) model.trainedAt = ts; // retrained now and then
      return {
        model_name: model.name,
        sharpe_ratio: round(model.sharpe, 3),
        win_rate: round(model.winRate, 4),
        profit_factor: round(model.profitFactor, 3),
        total_trades: model.trades,
        days_since_training: round(Math.max(0, ts - model.trainedAt) / 86_400_000, 3),
        ts,
      };
    });
  }
}
