// The config contract: the gate variables operators set in core_gates.env,
// their defaults, how each is checked, and the effective config's hash.
// Pure: reading files and the environment lives in config-file.ts.
import { createHash } from "node:crypto";
import { editDistance } from "../lib/edit-distance.ts";
import type { CapitalProfile, Regime } from "./types.ts";

export interface GateConfig {
  MIN_NOTIONAL_USD: number;
  EDGE_MULTIPLIER: number;
  FEES_BPS: number;
  FUNDING_BPS: number;
  SLIPPAGE_BPS: number;
  NOISE_BPS: number;
  MIN_HOLD_SECONDS: number;
  MAX_TRADES_10MIN: number;
  MIN_R_TREND: number;
  MIN_R_RANGE: number;
  MIN_R_HIGH_VOL: number;
  MIN_R_LOW_VOL: number;
  ALLOWED_MODELS_TREND: string[];
  ALLOWED_MODELS_RANGE: string[];
  ALLOWED_MODELS_HIGH_VOL: string[];
  ALLOWED_MODELS_LOW_VOL: string[];
  CAPITAL_MICRO_RISK_PER_TRADE_PCT: number;
  CAPITAL_MICRO_DAILY_RISK_PCT: number;
  CAPITAL_MICRO_MAX_POSITIONS: number;
  CAPITAL_SMALL_RISK_PER_TRADE_PCT: number;
  CAPITAL_SMALL_DAILY_RISK_PCT: number;
  CAPITAL_SMALL_MAX_POSITIONS: number;
  CAPITAL_MEDIUM_RISK_PER_TRADE_PCT: number;
  CAPITAL_MEDIUM_DAILY_RISK_PCT: number;
  CAPITAL_MEDIUM_MAX_POSITIONS: number;
  CAPITAL_LARGE_RISK_PER_TRADE_PCT: number;
  CAPITAL_LARGE_DAILY_RISK_PCT: number;
  CAPITAL_LARGE_MAX_POSITIONS: number;
}

export type ConfigKey = keyof GateConfig;

/**
 * Defaults. Friction components are basis points of notional and sum to 22 bps
 * (about $0.22 per $100 traded, as the operators measured): taker fees in and
 * out 10, funding 2, slippage 6, noise 4. HIGH_VOL asks for more reward per unit
 * of risk than TREND because stops are hit more often; LOW_VOL sits between RANGE and TREND.
 * Capital profiles (the CAPITAL_PROFILE decision) step up from MICRO, a
 * small or new account risking a quarter percent a trade, to LARGE; the
 * percentages are of tradable equity (see account.ts).
 */
export const DEFAULT_CONFIG: Readonly<GateConfig> = deepFreeze({
  MIN_NOTIONAL_USD: 25,
  EDGE_MULTIPLIER: 3.0,
  FEES_BPS: 10,
  FUNDING_BPS: 2,
  SLIPPAGE_BPS: 6,
  NOISE_BPS: 4,
  MIN_HOLD_SECONDS: 300,
  MAX_TRADES_10MIN: 3,
  MIN_R_TREND: 2.5,
  MIN_R_RANGE: 1.8,
  MIN_R_HIGH_VOL: 3.0,
  MIN_R_LOW_VOL: 2.0,
  ALLOWED_MODELS_TREND: ["NHiTS", "PatchTST"],
  ALLOWED_MODELS_RANGE: ["XGBoost", "LightGBM"],
  ALLOWED_MODELS_HIGH_VOL: ["XGBoost"],
  ALLOWED_MODELS_LOW_VOL: ["PatchTST"],
  CAPITAL_MICRO_RISK_PER_TRADE_PCT: 0.25,
  CAPITAL_MICRO_DAILY_RISK_PCT: 1,
  CAPITAL_MICRO_MAX_POSITIONS: 2,
  CAPITAL_SMALL_RISK_PER_TRADE_PCT: 0.5,
  CAPITAL_SMALL_DAILY_RISK_PCT: 2,
  CAPITAL_SMALL_MAX_POSITIONS: 3,
  CAPITAL_MEDIUM_RISK_PER_TRADE_PCT: 1,
  CAPITAL_MEDIUM_DAILY_RISK_PCT: 3,
  CAPITAL_MEDIUM_MAX_POSITIONS: 5,
  CAPITAL_LARGE_RISK_PER_TRADE_PCT: 1.5,
  CAPITAL_LARGE_DAILY_RISK_PCT: 5,
  CAPITAL_LARGE_MAX_POSITIONS: 8,
});

/** Configs are copied with spread, which shares the model lists: freezing them keeps the defaults fixed. */
function deepFreeze(config: GateConfig): Readonly<GateConfig> {
  for (const value of Object.values(config)) if (Array.isArray(value)) Object.freeze(value);
  return Object.freeze(config);
}

export const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as ConfigKey[];

const INTEGER_KEYS = new Set<ConfigKey>([
  "MIN_HOLD_SECONDS",
  "MAX_TRADES_10MIN",
  "CAPITAL_MICRO_MAX_POSITIONS",
  "CAPITAL_SMALL_MAX_POSITIONS",
  "CAPITAL_MEDIUM_MAX_POSITIONS",
  "CAPITAL_LARGE_MAX_POSITIONS",
]);
/** A model name in the allow tables (and in model performance reports). */
export const MODEL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export const MIN_R_KEY: Record<Regime, ConfigKey> = {
  TREND: "MIN_R_TREND",
  RANGE: "MIN_R_RANGE",
  HIGH_VOL: "MIN_R_HIGH_VOL",
  LOW_VOL: "MIN_R_LOW_VOL",
};

export const ALLOWED_MODELS_KEY: Record<Regime, ConfigKey> = {
  TREND: "ALLOWED_MODELS_TREND",
  RANGE: "ALLOWED_MODELS_RANGE",
  HIGH_VOL: "ALLOWED_MODELS_HIGH_VOL",
  LOW_VOL: "ALLOWED_MODELS_LOW_VOL",
};

/** Each capital profile's default limits, by gate variable. */
export const CAPITAL_PROFILE_KEYS: Record<CapitalProfile, { riskPerTradePct: ConfigKey; dailyRiskPct: ConfigKey; maxPositions: ConfigKey }> = {
  MICRO: { riskPerTradePct: "CAPITAL_MICRO_RISK_PER_TRADE_PCT", dailyRiskPct: "CAPITAL_MICRO_DAILY_RISK_PCT", maxPositions: "CAPITAL_MICRO_MAX_POSITIONS" },
  SMALL: { riskPerTradePct: "CAPITAL_SMALL_RISK_PER_TRADE_PCT", dailyRiskPct: "CAPITAL_SMALL_DAILY_RISK_PCT", maxPositions: "CAPITAL_SMALL_MAX_POSITIONS" },
  MEDIUM: { riskPerTradePct: "CAPITAL_MEDIUM_RISK_PER_TRADE_PCT", dailyRiskPct: "CAPITAL_MEDIUM_DAILY_RISK_PCT", maxPositions: "CAPITAL_MEDIUM_MAX_POSITIONS" },
  LARGE: { riskPerTradePct: "CAPITAL_LARGE_RISK_PER_TRADE_PCT", dailyRiskPct: "CAPITAL_LARGE_DAILY_RISK_PCT", maxPositions: "CAPITAL_LARGE_MAX_POSITIONS" },
};

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(DEFAULT_CONFIG, key);
}

export type ParsedValue = { ok: true; value: number | string[] } | { ok: false; problem: string };

/**
 * Checks one variable. `raw` is a string from a file or the environment, or an
 * already typed value (number, string array) from a hub policy.
 */
export function parseConfigValue(key: ConfigKey, raw: unknown): ParsedValue {
  const isList = Array.isArray(DEFAULT_CONFIG[key]);
  if (isList) {
    const items = typeof raw === "string" ? raw.split(",").map((s) => s.trim()).filter((s) => s !== "") : raw;
    if (!Array.isArray(items)) return { ok: false, problem: `expected a comma-separated list of model names` };
    const badIndex = items.findIndex((m) => typeof m !== "string" || !MODEL_NAME.test(m));
    if (badIndex !== -1) return { ok: false, problem: `${describe(items[badIndex])} is not a model name` };
    return { ok: true, value: [...new Set(items as string[])] };
  }
  let n: number;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "string" && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw)) n = Number(raw);
  else return { ok: false, problem: `${describe(raw)} is not a number` };
  if (!Number.isFinite(n)) return { ok: false, problem: `${describe(raw)} is not a finite number` };
  if (n < 0) return { ok: false, problem: `${n} is negative` };
  if (INTEGER_KEYS.has(key) && !Number.isInteger(n)) return { ok: false, problem: `${n} is not a whole number` };
  return { ok: true, value: n };
}

/** A value as an operator typed it: strings quoted, NaN and bigints as themselves. */
function describe(value: unknown): string {
  return typeof value === "number" || typeof value === "bigint" || value === undefined ? String(value) : JSON.stringify(value);
}

/** The known key an unknown one is probably a typo of, if any. */
export function closestConfigKey(unknown: string): ConfigKey | null {
  const upper = unknown.toUpperCase();
  let best: ConfigKey | null = null;
  let bestDistance = Infinity;
  for (const key of CONFIG_KEYS) {
    const distance = editDistance(upper, key);
    if (distance < bestDistance) [best, bestDistance] = [key, distance];
  }
  // Case-only differences, or up to 2 edits (1 for short keys), count as typos.
  const allowed = unknown.length <= 8 ? 1 : 2;
  if (bestDistance <= allowed) return best;
  // So do abbreviations: a key cut short (MIN_NOTIONAL, EDGE_MULT) or one that
  // starts like a real one and is 3 edits from it (MIN_HOLD_SECS).
  if (upper.length >= 8) {
    const prefixOf = CONFIG_KEYS.find((key) => key.startsWith(upper));
    if (prefixOf) return prefixOf;
  }
  const firstWords = upper.split("_").slice(0, 2).join("_") + "_";
  if (bestDistance <= 3 && best!.startsWith(firstWords)) return best;
  return null;
}

/** A stable identity of the effective config: same values, same hash, whatever their order or source. */
export function configHash(config: GateConfig): string {
  // Model lists are sets: their order does not change what the gates do, so it does not change the hash.
  const canonical = JSON.stringify(
    CONFIG_KEYS.map((key) => {
      const value = config[key];
      return [key, Array.isArray(value) ? [...value].sort() : value];
    }),
  );
  return "sha256:" + createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** Friction in basis points of notional: fees + funding + slippage + noise. */
export function frictionBps(config: GateConfig): number {
  return config.FEES_BPS + config.FUNDING_BPS + config.SLIPPAGE_BPS + config.NOISE_BPS;
}

/**
 * Applies typed overrides (for example gate thresholds in a hub policy) to a config.
 * Every problem is reported; with any problem the result is null and nothing changes.
 */
export function overrideConfig(
  base: GateConfig,
  overrides: Record<string, unknown>,
): { config: GateConfig; problems: [] } | { config: null; problems: string[] } {
  const problems: string[] = [];
  const next: GateConfig = { ...base };
  for (const [key, raw] of Object.entries(overrides)) {
    if (!isConfigKey(key)) {
      const guess = closestConfigKey(key);
      problems.push(`${key}: unknown gate variable${guess ? ` (did you mean ${guess}?)` : ""}`);
      continue;
    }
    const parsed = parseConfigValue(key, raw);
    if (parsed.ok) (next as Record<ConfigKey, unknown>)[key] = parsed.value;
    else problems.push(`${key}: ${parsed.problem}`);
  }
  return problems.length ? { config: null, problems } : { config: next, problems: [] };
}
