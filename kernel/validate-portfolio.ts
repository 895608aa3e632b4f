// Fail-closed checks of a portfolio snapshot before the kernel judges by it:
// a snapshot with a missing or impossible field is refused whole, naming the
// field, rather than read as zero (a drawdown read as 0 would lift a freeze).
import type { PortfolioSnapshot } from "./types.ts";
import { isEpochMs, MAX_FUTURE_SKEW_MS } from "./validate-intent.ts";

type Check = "finite" | "non-negative" | "count";

/** Every field the kernel keeps, with what it must be. Other fields are ignored. */
const FIELDS: Record<Exclude<keyof PortfolioSnapshot, "ts">, Check> = {
  total_equity: "finite",
  drawdown_pct: "non-negative",
  max_drawdown_pct: "non-negative",
  realized_pnl_today: "finite",
  unrealized_pnl: "finite",
  num_positions: "count",
  total_exposure_usd: "non-negative",
  win_rate_today: "finite",
  sharpe_ratio_7d: "finite",
};

const PROBLEM: Record<Check, string> = {
  finite: "must be a finite number",
  "non-negative": "must be a finite number, 0 or more",
  count: "must be a whole number, 0 or more",
};

function passes(value: unknown, check: Check): boolean {
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if (check === "count") return Number.isSafeInteger(value) && value >= 0;
  return check === "finite" || value >= 0;
}

/** Why a snapshot is unusable (`field: problem`, the first bad field), or null if it is fine. */
export function invalidPortfolio(snapshot: unknown): string | null {
  if (typeof snapshot !== "object" || snapshot === null || Array.isArray(snapshot)) return "portfolio: must be an object";
  const s = snapshot as Record<string, unknown>;
  for (const [field, check] of Object.entries(FIELDS)) if (!passes(s[field], check)) return `${field}: ${PROBLEM[check]}`;
  if (!isEpochMs(s.ts)) return "ts: must be whole ms since the epoch (2000 to 2100)";
  return null;
}

/** Why a usable snapshot cannot be recorded at `now`: dated more than MAX_FUTURE_SKEW_MS ahead of it. */
export function futurePortfolio(snapshot: { ts: number }, now: number): string | null {
  if (snapshot.ts <= now + MAX_FUTURE_SKEW_MS) return null;
  return (
    `ts: FUTURE_PORTFOLIO: ${snapshot.ts} (${new Date(snapshot.ts).toISOString()}) is more than ${MAX_FUTURE_SKEW_MS / 1000} s ahead of ` +
    `this clock (${new Date(now).toISOString()}); recorded, it would outrank every snapshot until then`
  );
}

/** The snapshot's own fields only, in a fixed order (what the journal keeps). */
export function portfolioFields(snapshot: PortfolioSnapshot): PortfolioSnapshot {
  const kept = {} as Record<string, number>;
  for (const field of Object.keys(FIELDS)) kept[field] = snapshot[field as keyof PortfolioSnapshot];
  kept.ts = snapshot.ts;
  return kept as unknown as PortfolioSnapshot;
}
