// The one rule shape every latched rule shares, modelled on a trading
// protection: a metric over a lookback window (method: latest, mean, min or
// max) with a minimum number of samples before it may fire; steps, each
// with a threshold the metric must reach (at or above); and a way back that
// needs both the step's hold (min_hold_s, like a protection's lock) and a
// sustained recovery: every sample over recovery_s below the step's
// threshold by the hysteresis. It moves one step back at a time.
import type { Method } from "./config.ts";
import type { Latch } from "./role.ts";
import { figure, type Sample, type Series } from "./series.ts";

export interface SteppedRule {
  method: Method;
  lookback_s: number;
  min_samples: number;
  recovery_s: number;
  min_hold_s: number;
  /** How far below a step's threshold the metric must stay for the way back (the metric's unit). */
  hysteresis: number;
}

export interface Metric<S> {
  name: string;
  of(sample: S): number;
  /** Per step (first = step 1): the threshold that reaches it, or null (this metric does not). */
  thresholds: readonly (number | null)[];
  /** This metric's own hysteresis, when not the rule's (another unit, or a smaller scale). */
  hysteresis?: number;
}

export interface StepChange {
  from: number;
  to: number;
  /** The metric values the change was judged on, by metric name (and the number of samples). */
  inputs: Record<string, number>;
  /** The thresholds that fired (up) or were stayed below (down), by metric name. */
  thresholds: Record<string, number>;
  why: string;
}

/**
 * The step `series` calls for given where the rule stands (`latch`), or
 * null when it stays. Up: straight to the highest step reached. Down: one
 * step, when held long enough and recovered.
 */
export function steppedLevel<S extends Sample>(series: Series<S>, now: number, rule: SteppedRule, metrics: readonly Metric<S>[], latch: Latch | undefined): StepChange | null {
  const current = latch?.level ?? 0;
  const from = now - rule.lookback_s * 1000;
  const samples = series.count(from, now);
  // Most evaluations stay where they are: the step reached is judged first, the record of why is made only for a rise.
  if (samples >= rule.min_samples && highestReached(series, from, now, rule, metrics) > current) return rise(series, from, now, rule, metrics, current, samples);
  if (current === 0 || !latch || now - latch.since < rule.min_hold_s * 1000) return null;
  const recoveryFrom = now - rule.recovery_s * 1000;
  // The newest sample first: while the step holds it is mostly not below, and nothing more need be read.
  const newest = series.latest();
  if (newest && newest.at >= recoveryFrom && newest.at <= now) {
    for (const metric of metrics) {
      const threshold = metric.thresholds[current - 1];
      if (threshold !== null && threshold !== undefined && !(metric.of(newest) < threshold - (metric.hysteresis ?? rule.hysteresis))) return null;
    }
  }
  const recovered = series.count(recoveryFrom, now);
  if (recovered < rule.min_samples) return null;
  // Each metric with a threshold at this step must have stayed below it by its hysteresis.
  const held: Array<{ metric: Metric<S>; below: number; worst: number }> = [];
  for (const metric of metrics) {
    const threshold = metric.thresholds[current - 1];
    if (threshold !== null && threshold !== undefined) held.push({ metric, below: threshold - (metric.hysteresis ?? rule.hysteresis), worst: -Infinity });
  }
  // One pass, newest first, every metric at each sample: a recent sample not below ends it at once, the common case
  // while the step holds (so the whole window is read only when every metric has recovered).
  let recoveredAll = true;
  series.eachNewest(recoveryFrom, now, (sample) => {
    for (const h of held) {
      h.worst = Math.max(h.worst, h.metric.of(sample));
      if (!(h.worst < h.below)) return (recoveredAll = false);
    }
  });
  if (!recoveredAll) return null;
  const inputs: Record<string, number> = { samples: recovered };
  const thresholds: Record<string, number> = {};
  for (const h of held) {
    inputs[h.metric.name] = figure(h.worst);
    thresholds[h.metric.name] = figure(h.below);
  }
  const words = Object.keys(thresholds).map((name) => `${name} at most ${inputs[name]} over ${rule.recovery_s} s < ${thresholds[name]}`);
  return { from: current, to: current - 1, inputs, thresholds, why: `${words.join(" and ")}, held ${Math.round((now - latch.since) / 1000)} s >= ${rule.min_hold_s} s` };
}

/** The highest step any metric reaches over the window (0: none). */
function highestReached<S extends Sample>(series: Series<S>, from: number, now: number, rule: SteppedRule, metrics: readonly Metric<S>[]): number {
  let reached = 0;
  for (const metric of metrics) {
    const value = series.aggregate(from, now, metric.of, rule.method);
    for (let i = 0; i < metric.thresholds.length; i++) {
      const threshold = metric.thresholds[i]!;
      if (threshold !== null && value >= threshold && i + 1 > reached) reached = i + 1;
    }
  }
  return reached;
}

/** The rise to the highest step reached, with the values and thresholds that reached it. */
function rise<S extends Sample>(series: Series<S>, from: number, now: number, rule: SteppedRule, metrics: readonly Metric<S>[], current: number, samples: number): StepChange {
  let reached = 0;
  const inputs: Record<string, number> = { samples };
  const fired: Record<string, number> = {};
  for (const metric of metrics) {
    const value = series.aggregate(from, now, metric.of, rule.method);
    for (let i = 0; i < metric.thresholds.length; i++) {
      const threshold = metric.thresholds[i]!;
      if (threshold !== null && value >= threshold && i + 1 > reached) {
        reached = i + 1;
        inputs[metric.name] = figure(value);
        fired[metric.name] = threshold;
      }
    }
  }
  const words = Object.entries(fired).map(([name, threshold]) => `${name} ${inputs[name]} (${rule.method} of ${samples} samples over ${rule.lookback_s} s) >= ${threshold}`);
  return { from: current, to: reached, inputs, thresholds: fired, why: words.join(" and ") };
}
