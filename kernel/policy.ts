// The kernel's policy: what hub decisions set (mode, enforcement, risk limits,
// symbol universe, model allocation, threshold overrides, and the account
// limits of policy-limits.ts) and how an update is validated whole. Pure:
// the agent persists policies, this file only decides.
import { CONFIG_KEYS, overrideConfig, type GateConfig } from "./config.ts";
import { ACCOUNT_UPDATE_KEYS, applyAccountLimitsUpdate, NO_ACCOUNT_LIMITS, type AccountLimits, type AccountLimitsUpdate } from "./policy-limits.ts";
import { ENFORCEMENTS, FREEZE_SEVERITIES, MODES, type Enforcement, type FreezeSeverity, type Mode } from "./types.ts";
import { isSymbol } from "./validate-intent.ts";

export type BaseMode = Exclude<Mode, "FREEZE">;

/** A freeze: `until` in ms since the epoch, or null for "until unfrozen"; severity and reason as the decision gave them. */
export interface Freeze {
  until: number | null;
  severity?: FreezeSeverity;
  reason?: string;
}

export interface KernelPolicy extends AccountLimits {
  mode: BaseMode;
  /** Set while frozen. */
  freeze: Freeze | null;
  enforcement: Enforcement;
  /** Risk limits; null means off. */
  max_leverage: number | null;
  max_notional_usd: number | null;
  /** The active symbol universe; null means every symbol. */
  active_symbols: string[] | null;
  /** Strategy allocation by model; a weight of 0 switches the model off. */
  model_weights: Record<string, number> | null;
  /** Gate thresholds the hub overrides on top of core_gates.env. */
  thresholds: Partial<GateConfig>;
  /**
   * Time windows with another mode (e.g. PAUSED over a maintenance slot), by
   * intent time: judged purely from the intent's ts, so no timer on the node
   * has to fire for a window to start or end. Optional so policies stored
   * before windows existed still read.
   */
  windows?: ModeWindow[];
}

export interface ModeWindow {
  mode: BaseMode;
  /** ms since the epoch, inclusive. */
  from: number;
  /** ms since the epoch, exclusive. */
  until: number;
}

/** Windows kept per policy; adding one more drops the one that ends first. */
export const MAX_MODE_WINDOWS = 32;

export const DEFAULT_POLICY: Readonly<KernelPolicy> = Object.freeze({
  mode: "LIVE",
  freeze: null,
  enforcement: "enforce",
  max_leverage: null,
  max_notional_usd: null,
  active_symbols: null,
  model_weights: null,
  thresholds: {},
  windows: [],
  ...NO_ACCOUNT_LIMITS,
});

/** A partial policy as a hub decision carries it. `mode: "FREEZE"` takes `freeze_until` (absent: indefinite). */
export interface PolicyUpdate extends AccountLimitsUpdate {
  mode?: Mode;
  freeze_until?: number | null;
  /** With mode FREEZE: recorded with the freeze. */
  freeze_severity?: FreezeSeverity;
  freeze_reason?: string;
  enforcement?: Enforcement;
  max_leverage?: number | null;
  max_notional_usd?: number | null;
  active_symbols?: string[] | null;
  model_weights?: Record<string, number> | null;
  thresholds?: Partial<Record<keyof GateConfig, unknown>>;
  /** Adds a mode window; null clears them all. */
  mode_window?: ModeWindow | null;
  /** Windows in force at this time (ms) end at it; later ones stay. A mode change "from now on" ends a timed one. */
  windows_end_at?: number;
}

const UPDATE_KEYS = new Set<string>([
  "mode",
  "freeze_until",
  "freeze_severity",
  "freeze_reason",
  "enforcement",
  "max_leverage",
  "max_notional_usd",
  "active_symbols",
  "model_weights",
  "thresholds",
  "mode_window",
  "windows_end_at",
  ...ACCOUNT_UPDATE_KEYS,
]);

const MAX_FREEZE_REASON_LENGTH = 512;

export type PolicyResult = { ok: true; policy: KernelPolicy } | { ok: false; violations: string[] };

function positiveOrNull(value: unknown, name: string, violations: string[]): number | null {
  if (value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    violations.push(`${name}: must be a positive number or null (off)`);
    return null;
  }
  return value;
}

/**
 * Validates an update whole against the current policy. Every violation is
 * reported; a rejected update returns no policy, so nothing can half-apply.
 */
export function applyPolicyUpdate(current: KernelPolicy, update: unknown): PolicyResult {
  if (typeof update !== "object" || update === null || Array.isArray(update)) {
    return { ok: false, violations: ["policy update: must be an object"] };
  }
  const u = update as Record<string, unknown>;
  const violations: string[] = [];
  const next: KernelPolicy = { ...current };

  for (const key of Object.keys(u)) if (!UPDATE_KEYS.has(key)) violations.push(`${key}: unknown policy field`);

  if ("mode" in u) {
    if (!MODES.includes(u.mode as Mode)) violations.push(`mode: must be one of ${MODES.join(", ")}`);
    else if (u.mode === "FREEZE") {
      const until = u.freeze_until ?? null;
      if (until !== null && (typeof until !== "number" || !Number.isFinite(until) || until <= 0)) {
        violations.push("freeze_until: must be a time in ms since the epoch, or absent for an indefinite freeze");
      }
      next.freeze = { until: until as number | null, ...freezeNotes(u, violations) };
    } else {
      next.mode = u.mode as BaseMode;
      next.freeze = null; // any other mode change ends a freeze
    }
  }
  for (const key of ["freeze_until", "freeze_severity", "freeze_reason"]) {
    if (key in u && u.mode !== "FREEZE") violations.push(`${key}: only valid with mode FREEZE`);
  }

  if ("enforcement" in u) {
    if (ENFORCEMENTS.includes(u.enforcement as Enforcement)) next.enforcement = u.enforcement as Enforcement;
    else violations.push(`enforcement: must be one of ${ENFORCEMENTS.join(", ")}`);
  }
  if ("max_leverage" in u) next.max_leverage = positiveOrNull(u.max_leverage, "max_leverage", violations);
  if ("max_notional_usd" in u) next.max_notional_usd = positiveOrNull(u.max_notional_usd, "max_notional_usd", violations);

  if ("active_symbols" in u) {
    const symbols = u.active_symbols;
    if (symbols === null) next.active_symbols = null;
    else if (!Array.isArray(symbols)) violations.push("active_symbols: must be a list of symbols or null (all)");
    else {
      symbols.forEach((s, i) => {
        if (!isSymbol(s)) violations.push(`active_symbols[${i}]: not a symbol`);
      });
      next.active_symbols = [...new Set(symbols as string[])];
    }
  }

  if ("model_weights" in u) {
    const weights = u.model_weights;
    if (weights === null) next.model_weights = null;
    else if (typeof weights !== "object" || Array.isArray(weights)) {
      violations.push("model_weights: must be an object of model -> weight, or null");
    } else {
      for (const [model, weight] of Object.entries(weights as Record<string, unknown>)) {
        if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0 || weight > 1) {
          violations.push(`model_weights.${model}: must be a number from 0 to 1`);
        }
      }
      next.model_weights = { ...(weights as Record<string, number>) };
    }
  }

  if ("thresholds" in u) {
    const thresholds = u.thresholds;
    if (typeof thresholds !== "object" || thresholds === null || Array.isArray(thresholds)) {
      violations.push("thresholds: must be an object of gate variables");
    } else {
      // Check the overrides against any base: only their own validity matters here.
      const checked = overrideConfig({} as GateConfig, thresholds as Record<string, unknown>);
      if (checked.config === null) violations.push(...checked.problems.map((p) => `thresholds.${p}`));
      else {
        const merged: Partial<GateConfig> = { ...current.thresholds };
        for (const key of CONFIG_KEYS) if (key in checked.config) Object.assign(merged, { [key]: checked.config[key] });
        next.thresholds = merged;
      }
    }
  }

  if ("windows_end_at" in u) {
    const at = u.windows_end_at;
    if (typeof at !== "number" || !Number.isFinite(at) || at <= 0) violations.push("windows_end_at: must be a time in ms since the epoch");
    else next.windows = (next.windows ?? []).map((w) => (w.from <= at && at < w.until ? { ...w, until: at } : w)).filter((w) => w.until > w.from);
  }

  if ("mode_window" in u) {
    const w = u.mode_window as Partial<ModeWindow> | null;
    if (w === null) next.windows = [];
    else if (typeof w !== "object" || Array.isArray(w)) violations.push("mode_window: must be {mode, from, until} or null (clear all)");
    else {
      const times = [w.from, w.until];
      if (!MODES.includes(w.mode as Mode) || (w.mode as Mode) === "FREEZE") violations.push("mode_window.mode: must be LIVE, SHADOW, PAUSED or EMERGENCY");
      if (times.some((t) => typeof t !== "number" || !Number.isFinite(t) || t <= 0)) violations.push("mode_window: from and until must be times in ms since the epoch");
      else if (w.until! <= w.from!) violations.push("mode_window: until must be after from");
      const extra = Object.keys(w).filter((k) => !["mode", "from", "until"].includes(k));
      if (extra.length) violations.push(`mode_window: unknown field ${extra.join(", ")}`);
      const windows = [...(current.windows ?? []), { mode: w.mode as BaseMode, from: w.from!, until: w.until! }];
      // Over the limit, the window that ends first goes (most likely already past).
      windows.sort((a, b) => a.until - b.until);
      next.windows = windows.slice(-MAX_MODE_WINDOWS);
    }
  }

  applyAccountLimitsUpdate(next, u, violations);
  return violations.length ? { ok: false, violations } : { ok: true, policy: next };
}

/** A freeze's severity and reason, when the update gives them. */
function freezeNotes(u: Record<string, unknown>, violations: string[]): Pick<Freeze, "severity" | "reason"> {
  const notes: Pick<Freeze, "severity" | "reason"> = {};
  if ("freeze_severity" in u) {
    if (FREEZE_SEVERITIES.includes(u.freeze_severity as FreezeSeverity)) notes.severity = u.freeze_severity as FreezeSeverity;
    else violations.push(`severity: must be one of ${FREEZE_SEVERITIES.join(", ")}`);
  }
  if ("freeze_reason" in u) {
    if (typeof u.freeze_reason === "string" && u.freeze_reason.length <= MAX_FREEZE_REASON_LENGTH) notes.reason = u.freeze_reason;
    else violations.push(`reason: must be text of at most ${MAX_FREEZE_REASON_LENGTH} characters`);
  }
  return notes;
}

/**
 * The mode in force at a moment: FREEZE while a freeze lasts, else the mode
 * of a window covering it (the one that started last), else the base mode.
 */
export function modeAt(policy: KernelPolicy, ts: number): Mode {
  if (policy.freeze && (policy.freeze.until === null || ts < policy.freeze.until)) return "FREEZE";
  let window: ModeWindow | undefined;
  for (const w of policy.windows ?? []) if (ts >= w.from && ts < w.until && (!window || w.from >= window.from)) window = w;
  return window ? window.mode : policy.mode;
}

/** The gate config the kernel evaluates with: core_gates.env plus the hub's threshold overrides. */
export function effectiveConfig(fileConfig: GateConfig, policy: KernelPolicy): GateConfig {
  return { ...fileConfig, ...policy.thresholds };
}
