// The federation config (federation.yaml, or the same as JSON): the engine's
// limits and, per role, its mode and the thresholds of each of its rules.
// Every field has a default, so an empty file is a whole config (every role
// advisory); examples/federation.yaml lists them all. Each rule has the shape
// of a trading protection (freqtrade's StoplossGuard, MaxDrawdown,
// LowProfitPairs, CooldownPeriod): a method over a lookback window, a
// minimum number of samples before it may fire, a threshold, and how long
// what it did holds (min_hold_s / lock_s) before it may be undone, which
// only happens after a sustained recovery (recovery_s) past a hysteresis.
import { z } from "zod";
import { CAPITAL_PROFILES, FREEZE_SEVERITIES } from "../../kernel/types.ts";

export const ROLE_MODES = ["active", "advisory", "off"] as const;
export type RoleMode = (typeof ROLE_MODES)[number];

/** A section that may be left out (or empty): its fields take their defaults. */
function section<S extends z.ZodRawShape>(shape: S, check?: (value: z.infer<z.ZodObject<S>>, ctx: z.RefinementCtx) => void) {
  const object = z.strictObject(shape);
  return (check ? object.superRefine(check) : object).prefault({} as never);
}

/** Hysteresis: the level that undoes a rule must be below the one that fires it. */
function releaseBelowFire<T>(release: keyof T & string, fire: keyof T & string) {
  return (value: T, ctx: z.RefinementCtx) => {
    if ((value[release] as number) >= (value[fire] as number)) ctx.addIssue({ code: "custom", path: [release], message: `must be below ${fire} (${value[fire]})` });
  };
}

const seconds = (fallback: number) => z.number().min(0, "seconds, 0 or more").default(fallback);
const count = (fallback: number) => z.int().min(1, "a whole number, 1 or more").default(fallback);
const percent = (fallback: number) => z.number().min(0, "a percentage, 0 or more").default(fallback);
const share = (fallback: number) => z.number().min(0, "a share from 0 to 1").max(1, "a share from 0 to 1").default(fallback);
/** How the samples of a lookback window become one value compared with the threshold. */
const method = (fallback: Method) => z.enum(METHODS).default(fallback);
export const METHODS = ["latest", "mean", "min", "max"] as const;
export type Method = (typeof METHODS)[number];

const roleMode = z.enum(ROLE_MODES).default("advisory");
/** Per role: overrides engine.min_interval_s for this role's decisions to one target. */
const roleInterval = z.number().min(0, "seconds, 0 or more").optional();

/** The parts every latched rule shares: when it may fire, and when it may be undone. */
const guard = (d: { lookback_s: number; min_samples: number; recovery_s: number; min_hold_s: number }) => ({
  lookback_s: seconds(d.lookback_s),
  min_samples: count(d.min_samples),
  recovery_s: seconds(d.recovery_s),
  min_hold_s: seconds(d.min_hold_s),
});

/** Steps must grow with their threshold: a later step starts where an earlier one is passed. */
function ascending<T>(key: keyof T & string) {
  return (steps: T[], ctx: z.RefinementCtx) => {
    for (let i = 1; i < steps.length; i++) {
      if ((steps[i]![key] as number) <= (steps[i - 1]![key] as number)) {
        ctx.addIssue({ code: "custom", path: [i, key], message: `must be above step ${i - 1}'s (${steps[i - 1]![key]})` });
      }
    }
  };
}

const nullablePositive = z.number().positive("a positive number, or null (off)").nullable();

const RiskStep = z.strictObject({
  at_drawdown_pct: z.number().min(0),
  max_leverage: nullablePositive,
  max_exposure_pct: nullablePositive,
  max_position_size_usd: nullablePositive,
});

const CapitalStep = z.strictObject({
  profile: z.enum(CAPITAL_PROFILES),
  at_drawdown_pct: z.number().min(0),
  /** Realised loss today in % of equity that also reaches this step; null: drawdown only. */
  at_daily_loss_pct: z.number().min(0).nullable().default(null),
});

const EssThresholds = z
  .strictObject({
    caution_threshold_pct: z.number().positive().max(100),
    warning_threshold_pct: z.number().positive().max(100),
    critical_threshold_pct: z.number().positive().max(100),
  })
  .superRefine((value, ctx) => {
    if (value.warning_threshold_pct < value.caution_threshold_pct) ctx.addIssue({ code: "custom", path: ["warning_threshold_pct"], message: "must be at least caution_threshold_pct" });
    if (value.critical_threshold_pct < value.warning_threshold_pct) ctx.addIssue({ code: "custom", path: ["critical_threshold_pct"], message: "must be at least warning_threshold_pct" });
  });

const taskType = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "a handler name on the node (lowercase identifier)");

export const FederationConfigSchema = z.strictObject({
  engine: section({
    /** Fleet-wide rules run at most this often (event time) and on every tick; node rules on each of the node's inputs. */
    evaluate_every_s: z.number().positive("seconds, above 0").default(5),
    /** A node's latest report counts in the fleet's figures for this long. */
    freshness_s: seconds(120),
    /** Opposite changes to one field of one target this close together are a conflict. */
    conflict_window_s: seconds(300),
    /** Least time between two decisions of one role to one target. */
    min_interval_s: seconds(300),
    /** Most decisions one role may make in any hour. */
    max_decisions_per_hour: count(60),
    /** After an operator OVERRIDE of a role's decision, the role does not make it again for this long. */
    override_suppression_s: seconds(3600),
    /** This many role conflicts within an hour raise a medium alert. */
    conflict_alert_per_hour: count(5),
    /** No input for this long (seen on a tick) raises a low alert: the engine is unhealthy. */
    no_input_alert_s: seconds(300),
  }),
  roles: section({
    supervisor: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** MaxDrawdown, fleet-wide: equity-weighted drawdown of the nodes reporting. */
      fleet_drawdown: section({
        method: method("mean"),
        ...guard({ lookback_s: 30, min_samples: 3, recovery_s: 600, min_hold_s: 900 }),
        min_nodes: count(1),
        freeze_at_pct: percent(15),
        lift_below_pct: percent(10),
        severity: z.enum(FREEZE_SEVERITIES).default("HIGH"),
      }, releaseBelowFire("lift_below_pct", "freeze_at_pct")),
      /** Share of nodes the hub sees unhealthy or offline. */
      unhealthy_share: section({
        method: method("min"),
        ...guard({ lookback_s: 60, min_samples: 3, recovery_s: 300, min_hold_s: 600 }),
        min_nodes: count(3),
        freeze_at_share: share(0.5),
        lift_below_share: share(0.25),
        severity: z.enum(FREEZE_SEVERITIES).default("MEDIUM"),
      }, releaseBelowFire("lift_below_share", "freeze_at_share")),
      /** Per node: the strategy's own system_status. EMERGENCY freezes the node, CRITICAL puts it in EMERGENCY mode. */
      system_status: section({
        ...guard({ lookback_s: 60, min_samples: 2, recovery_s: 300, min_hold_s: 600 }),
        resume_mode: z.enum(["LIVE", "SHADOW"]).default("LIVE"),
      }),
    }),
    risk_officer: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** Per node: limits tighten a step each time drawdown passes a step's threshold, relax a step after recovery. */
      drawdown: section({
        method: method("mean"),
        ...guard({ lookback_s: 30, min_samples: 3, recovery_s: 600, min_hold_s: 600 }),
        hysteresis_pct: percent(2),
        steps: z
          .array(RiskStep)
          .min(1)
          .superRefine(ascending("at_drawdown_pct"))
          .default([
            { at_drawdown_pct: 5, max_leverage: 3, max_exposure_pct: 200, max_position_size_usd: 2000 },
            { at_drawdown_pct: 8, max_leverage: 2, max_exposure_pct: 100, max_position_size_usd: 1000 },
            { at_drawdown_pct: 12, max_leverage: 1, max_exposure_pct: 50, max_position_size_usd: 500 },
          ]),
        /** The limits when no step is reached (null: off). */
        relaxed: section({
          max_leverage: nullablePositive.default(null),
          max_exposure_pct: nullablePositive.default(null),
          max_position_size_usd: nullablePositive.default(null),
        }),
      }),
    }),
    capital_allocator: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** Per node: the capital profile steps down toward MICRO on drawdown or a day's loss, up one step after recovery. */
      profile: section({
        method: method("mean"),
        ...guard({ lookback_s: 60, min_samples: 3, recovery_s: 1800, min_hold_s: 3600 }),
        hysteresis_pct: percent(2),
        /** The day's loss must stay this far below a step's at_daily_loss_pct to step back up. */
        loss_hysteresis_pct: percent(1),
        base: z.enum(CAPITAL_PROFILES).default("MEDIUM"),
        steps: z
          .array(CapitalStep)
          .min(1)
          .superRefine(ascending("at_drawdown_pct"))
          .default([
            { profile: "SMALL", at_drawdown_pct: 6, at_daily_loss_pct: 2 },
            { profile: "MICRO", at_drawdown_pct: 12, at_daily_loss_pct: 4 },
          ]),
      }),
      /** Per node: lock part of the profit once realised PnL today is positive. */
      cashflow: section({
        method: method("min"),
        lookback_s: seconds(300),
        min_samples: count(3),
        min_profit_usd: z.number().min(0).default(0),
        profit_lock_pct: percent(30),
        reinvest_pct: percent(70),
        reserve_buffer_pct: percent(10),
      }, (value, ctx) => {
        if (value.profit_lock_pct + value.reinvest_pct !== 100) ctx.addIssue({ code: "custom", path: ["reinvest_pct"], message: "profit_lock_pct + reinvest_pct must be 100" });
      }),
    }),
    strategy_allocator: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** Fleet-wide: weights from each model's reports across the fleet over the lookback. */
      allocation: section({
        lookback_s: seconds(86_400),
        min_samples: count(3),
        min_trades: z.int().min(0).default(30),
        score_weights: section({ sharpe: percent(0.5), win_rate: percent(0.25), profit_factor: percent(0.25) }),
        /** A Sharpe ratio or profit factor at or above its target scores full. */
        sharpe_target: z.number().positive().default(2),
        profit_factor_target: z.number().positive().default(2),
        /** A model below any floor gets weight 0. */
        floor: section({ sharpe: z.number().default(0), win_rate: share(0.35), profit_factor: z.number().min(0).default(1) }),
        /** Weights are rounded to this step. */
        step: z.number().positive().max(1).default(0.05),
        /** Hysteresis: new weights only when one moves at least this far (or a model switches on or off). */
        min_change: z.number().min(0).max(1).default(0.1),
      }),
    }),
    ess_guard: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** Per node: tighter ESS thresholds while its ESS state stays CAUTION or worse, back to normal after recovery. */
      thresholds: section({
        ...guard({ lookback_s: 300, min_samples: 3, recovery_s: 1800, min_hold_s: 1800 }),
        normal: EssThresholds.prefault({ caution_threshold_pct: 5, warning_threshold_pct: 10, critical_threshold_pct: 15 }),
        tight: EssThresholds.prefault({ caution_threshold_pct: 3, warning_threshold_pct: 6, critical_threshold_pct: 10 }),
      }),
      /** Per node: SHADOW (or PAUSED) while its ESS state stays WARNING or worse. */
      sustained_warning: section({
        ...guard({ lookback_s: 300, min_samples: 3, recovery_s: 900, min_hold_s: 1800 }),
        action: z.enum(["SHADOW", "PAUSED"]).default("SHADOW"),
        resume_mode: z.enum(["LIVE", "SHADOW"]).default("LIVE"),
      }),
    }),
    researcher: section({
      mode: roleMode,
      min_interval_s: roleInterval,
      /** A research task for a model not trained for too long, once per lock. */
      stale_model: section({
        max_days_since_training: z.number().positive().default(30),
        lock_s: seconds(86_400),
        task_type: taskType.default("journal_stats"),
      }),
      /** A research task when a model's Sharpe over the lookback falls below its baseline's by decay_pct. */
      performance_decay: section({
        lookback_s: seconds(86_400),
        baseline_s: seconds(604_800),
        min_samples: count(3),
        decay_pct: percent(30),
        lock_s: seconds(86_400),
        task_type: taskType.default("journal_stats"),
      }),
      /** Fleet-wide per symbol: StoplossGuard (stop-loss exits) and LowProfitPairs (mean profit per close) as a symbol lock. */
      symbol_guard: section({
        lookback_s: seconds(3600),
        stoploss_count: count(4),
        min_trades: count(6),
        min_profit_usd: z.number().default(0),
        lock_s: seconds(3600),
        /** The symbols to trade; empty: every symbol the fleet was seen trading. */
        universe: z.array(z.string().regex(/^[A-Z0-9]{2,32}$/, "a symbol such as BTCUSDT")).default([]),
      }),
    }),
  }),
});

export type FederationConfig = z.infer<typeof FederationConfigSchema>;
export type RoleConfigs = FederationConfig["roles"];

export const DEFAULT_FEDERATION_CONFIG: FederationConfig = FederationConfigSchema.parse({});
