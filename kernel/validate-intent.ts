// Fail-closed input checks: anything missing, non-finite or contradictory in an
// intent becomes an `INVALID_INPUT:<field>` reason, never an exception.
import { EXIT_KINDS, REGIMES, SIDES, type ExitKind, type InvalidReason, type Regime, type Side } from "./types.ts";

/** 2000-01-01T00:00:00Z. An earlier `ts` is almost surely seconds sent as milliseconds. */
export const MIN_INTENT_TS = 946_684_800_000;
/**
 * 2100-01-01T00:00:00Z. A later `ts` is almost surely microseconds; accepted, it
 * would escape any timed freeze and make every later intent look stale.
 */
export const MAX_INTENT_TS = 4_102_444_800_000;
/**
 * How far ahead of the clock an intent or a close may be dated. An intent
 * further ahead is held (FUTURE_INTENT): judged and counted, it would make
 * every later, correctly timed intent look stale and escape a timed freeze. A
 * close further ahead is refused (FUTURE_CLOSE): recorded, it would hold the
 * symbol's entries in cooldown until that time.
 */
export const MAX_FUTURE_SKEW_MS = 60_000;
const ID = /^[\x21-\x7e]{1,128}$/;
const SYMBOL = /^[A-Za-z0-9._:/-]{1,32}$/;

/** A trading symbol: 1 to 32 of letters, digits and . _ : / - (BTCUSDT, BTC/USD, BTC-PERP). */
export function isSymbol(symbol: unknown): symbol is string {
  return typeof symbol === "string" && SYMBOL.test(symbol);
}

/** An id the journal can key on: 1 to 128 printable ASCII characters, no spaces. */
export function isIntentId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id);
}

/** A time the kernel accepts: whole ms since the epoch, from 2000 to before 2100 (see MIN_INTENT_TS, MAX_INTENT_TS). */
export function isEpochMs(ts: unknown): ts is number {
  return typeof ts === "number" && Number.isSafeInteger(ts) && ts >= MIN_INTENT_TS && ts < MAX_INTENT_TS;
}

/** Why a close event is unusable, or null if it is fine. `pnl_usd` and `exit` are optional, checked when present (null counts as present). */
export function invalidClose(close: unknown): string | null {
  const c = close as { symbol?: unknown; ts?: unknown; pnl_usd?: unknown; exit?: unknown } | null;
  if (typeof c !== "object" || c === null) return "a close must be an object";
  if (!isSymbol(c.symbol)) return "a close needs a symbol";
  if (!isEpochMs(c.ts)) return "a close needs ts in ms since the epoch";
  if (c.pnl_usd !== undefined && (typeof c.pnl_usd !== "number" || !Number.isFinite(c.pnl_usd))) return "pnl_usd: must be a finite number (USD, negative for a loss)";
  if (c.exit !== undefined && !EXIT_KINDS.includes(c.exit as ExitKind)) return `exit: must be one of ${EXIT_KINDS.join(", ")}`;
  return null;
}

/** Why a usable close cannot be recorded at `now`, or null: dated more than MAX_FUTURE_SKEW_MS ahead of it. */
export function futureClose(close: { ts: number }, now: number): string | null {
  if (close.ts <= now + MAX_FUTURE_SKEW_MS) return null;
  return (
    `FUTURE_CLOSE: ts ${close.ts} (${new Date(close.ts).toISOString()}) is more than ${MAX_FUTURE_SKEW_MS / 1000} s ahead of ` +
    `this clock (${new Date(now).toISOString()}); recorded, it would hold the symbol's entries in cooldown until then`
  );
}

function isPositive(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}

/**
 * Lists every invalid field of an intent, in field order. An exit
 * (`reduce_only: true`) needs only what identifies the order; its optional
 * trade-plan fields are still checked when present.
 */
export function invalidFields(input: unknown, knownModels: ReadonlySet<string>): InvalidReason[] {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return ["INVALID_INPUT:intent"];
  const i = input as Record<string, unknown>;
  const bad: InvalidReason[] = [];
  const reduceOnly = i.reduce_only === true;
  // null is "present": JSON turns Infinity and NaN into null, so a null must
  // fail like the value it stood for, or a stored-and-reloaded intent could pass.
  const present = (field: string) => i[field] !== undefined;
  const needed = (field: string) => !reduceOnly || present(field);

  if (!isIntentId(i.id)) bad.push("INVALID_INPUT:id");
  if (!isSymbol(i.symbol)) bad.push("INVALID_INPUT:symbol");
  const sideOk = SIDES.includes(i.side as Side);
  if (!sideOk) bad.push("INVALID_INPUT:side");
  if (!isPositive(i.qty)) bad.push("INVALID_INPUT:qty");
  const priceOk = isPositive(i.price);
  if (!priceOk) bad.push("INVALID_INPUT:price");

  // Take-profit above and stop-loss below the price for a BUY; the reverse for a SELL.
  const buy = i.side === "BUY";
  if (needed("tp")) {
    const tp = i.tp;
    const wrongSide = sideOk && priceOk && isPositive(tp) && (buy ? tp <= (i.price as number) : tp >= (i.price as number));
    if (!isPositive(tp) || wrongSide) bad.push("INVALID_INPUT:tp");
  }
  if (needed("sl")) {
    const sl = i.sl;
    const wrongSide = sideOk && priceOk && isPositive(sl) && (buy ? sl >= (i.price as number) : sl <= (i.price as number));
    if (!isPositive(sl) || wrongSide) bad.push("INVALID_INPUT:sl");
  }
  if (needed("expected_move_usd")) {
    const move = i.expected_move_usd;
    if (typeof move !== "number" || !Number.isFinite(move) || move < 0) bad.push("INVALID_INPUT:expected_move_usd");
  }
  if (needed("model") && (typeof i.model !== "string" || !knownModels.has(i.model))) bad.push("INVALID_INPUT:model");
  if (needed("regime") && !REGIMES.includes(i.regime as Regime)) bad.push("INVALID_INPUT:regime");
  if (present("leverage") && !isPositive(i.leverage)) bad.push("INVALID_INPUT:leverage");
  if (present("reduce_only") && typeof i.reduce_only !== "boolean") bad.push("INVALID_INPUT:reduce_only");
  const ts = i.ts;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < MIN_INTENT_TS || ts >= MAX_INTENT_TS) bad.push("INVALID_INPUT:ts");
  return bad;
}
