// The replay's hot path: a day of a 100-node fleet is about two million
// lines. The zod schema in federation-events.ts stays the one definition;
// this hand-written check accepts exactly what it accepts
// (federation-event-guard.test.ts compares the two on generated input),
// without copying the parsed object, many times faster. Anything it refuses
// goes through zod for the error message. Only for parsed JSON: values
// JSON cannot make (undefined, NaN, class instances) are not its concern.
import { MODEL_NAME } from "../kernel/config.ts";
import { ESS_STATES, MODES, SYSTEM_STATUSES } from "../kernel/types.ts";
import { CLOSE_EXITS, NODE_HEALTH_STATES, type FederationEvent } from "./federation-events.ts";
import { NODE_ID_PATTERN } from "./node-id.ts";

type Fields = Record<string, unknown>;

const setOf = (values: readonly string[]): ReadonlySet<unknown> => new Set(values);
const MODE_SET = setOf(MODES);
const ESS_SET = setOf(ESS_STATES);
const SYSTEM_STATUS_SET = setOf(SYSTEM_STATUSES);
const NODE_HEALTH_SET = setOf(NODE_HEALTH_STATES);
const EXIT_SET = setOf(CLOSE_EXITS);

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
/** A plain object with exactly `keys` own keys (the caller checks each of them: strictObject). */
const hasKeys = (v: unknown, keys: number): v is Fields => isObject(v) && Object.keys(v).length === keys;
const isNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);
const isAtLeastZero = (v: unknown): boolean => isNumber(v) && (v as number) >= 0;
const isFraction = (v: unknown): boolean => isAtLeastZero(v) && (v as number) <= 1;
const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isNullableNumber = (v: unknown): boolean => v === null || isNumber(v);
const isString = (v: unknown, min: number, max: number): boolean => typeof v === "string" && v.length >= min && v.length <= max;
const isNode = (v: unknown): boolean => typeof v === "string" && NODE_ID_PATTERN.test(v);

/** messages.ts PortfolioMessage. */
function isPortfolio(v: unknown): boolean {
  return (
    hasKeys(v, 10) &&
    isAtLeastZero(v.total_equity) &&
    isAtLeastZero(v.drawdown_pct) &&
    isAtLeastZero(v.max_drawdown_pct) &&
    isNumber(v.realized_pnl_today) &&
    isNumber(v.unrealized_pnl) &&
    isCount(v.num_positions) &&
    isAtLeastZero(v.total_exposure_usd) &&
    isFraction(v.win_rate_today) &&
    isNumber(v.sharpe_ratio_7d) &&
    isCount(v.ts)
  );
}

/** messages.ts SystemHealthMessage. */
function isSystemHealth(v: unknown): boolean {
  return hasKeys(v, 3) && SYSTEM_STATUS_SET.has(v.system_status) && ESS_SET.has(v.ess_state) && isCount(v.ts);
}

/** messages.ts ModelPerformanceMessage. */
function isModelPerformance(v: unknown): boolean {
  return (
    hasKeys(v, 7) &&
    typeof v.model_name === "string" &&
    MODEL_NAME.test(v.model_name) &&
    isNumber(v.sharpe_ratio) &&
    isFraction(v.win_rate) &&
    isAtLeastZero(v.profit_factor) &&
    isCount(v.total_trades) &&
    isAtLeastZero(v.days_since_training) &&
    isCount(v.ts)
  );
}

/** messages.ts VerdictEventMessage. */
function isVerdictEvent(v: unknown): boolean {
  if (!hasKeys(v, 5) || !(Number.isSafeInteger(v.seq) && (v.seq as number) >= 1) || !isCount(v.ts) || typeof v.simulated !== "boolean" || !isString(v.symbol, 0, 32)) return false;
  const verdict = v.verdict;
  if (!hasKeys(verdict, 6) || !isString(verdict.id, 1, 128) || (verdict.verdict !== "PASS" && verdict.verdict !== "HOLD") || typeof verdict.enforced !== "boolean" || !MODE_SET.has(verdict.mode)) return false;
  const { reasons, metrics } = verdict;
  if (!Array.isArray(reasons) || reasons.length > 32 || !reasons.every((reason) => isString(reason, 0, 64))) return false;
  return hasKeys(metrics, 4) && isNullableNumber(metrics.notional) && isNullableNumber(metrics.friction_usd) && isNullableNumber(metrics.required_edge_usd) && isNullableNumber(metrics.r_ratio);
}

/** The close of a "close" event (optional pnl_usd and exit). */
function isClose(v: unknown): boolean {
  if (!isObject(v)) return false;
  const hasPnl = Object.hasOwn(v, "pnl_usd");
  const hasExit = Object.hasOwn(v, "exit");
  return (
    Object.keys(v).length === 2 + (hasPnl ? 1 : 0) + (hasExit ? 1 : 0) &&
    isString(v.symbol, 1, 32) &&
    isCount(v.ts) &&
    (!hasPnl || isNumber(v.pnl_usd)) &&
    (!hasExit || EXIT_SET.has(v.exit))
  );
}

/** FederationEvent.safeParse(v).success, for parsed JSON. */
export function isFederationEvent(v: unknown): v is FederationEvent {
  if (!isObject(v) || !isCount(v.at)) return false;
  const keys = Object.keys(v).length;
  switch (v.type) {
    case "tick":
      return keys === 2;
    case "portfolio":
      return keys === 4 && isNode(v.node) && isPortfolio(v.report);
    case "health":
      return keys === 4 && isNode(v.node) && isSystemHealth(v.report);
    case "model":
      return keys === 4 && isNode(v.node) && isModelPerformance(v.report);
    case "node_health":
      return keys === 4 && isNode(v.node) && NODE_HEALTH_SET.has(v.state);
    case "verdict":
      return keys === 4 && isNode(v.node) && isVerdictEvent(v.event);
    case "close":
      return keys === 4 && isNode(v.node) && isClose(v.close);
    default:
      return false;
  }
}
